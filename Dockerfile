# CPU image of the auditor: `docker build -t genaudit .`
# docker run --rm -v "$PWD/models:/models:ro" -v "$PWD/reports:/reports" genaudit \
#     scan /models/generator.onnx --format sarif -o /reports/auditor.sarif --fail-on high --no-progress
# Not built on these machines (no Docker engine here); the same install steps run in CI in a clean venv.
FROM python:3.11-slim

ENV PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1 XDG_CACHE_HOME=/tmp/cache
RUN useradd --create-home --uid 10001 auditor
WORKDIR /opt/genaudit
COPY pyproject.toml README.md ./
COPY auditor ./auditor
COPY trainer ./trainer
RUN pip install . && rm -rf /root/.cache

USER auditor
WORKDIR /reports
ENTRYPOINT ["auditor"]
CMD ["--help"]
