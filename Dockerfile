# The auditor as a CI gate. Two targets from one file:
#   docker build -t genaudit .                                # slim CPU image (the default, last stage)
#   docker build --target cuda -t genaudit:cuda .             # CUDA: onnxruntime-gpu with its CUDA/cuDNN wheels
# Run (models read-only, reports to a mounted folder, as a non-root user):
#   docker run --rm -v "$PWD/models:/models:ro" -v "$PWD/reports:/reports" genaudit \
#       scan /models --fail-on high --format sarif -o /reports/auditor.sarif --no-progress
#   docker run --rm --gpus all ... genaudit:cuda scan /models --device cuda ...
# No Docker engine runs on the machines this was written on: docker/check-install.sh replays these install steps
# in a clean venv (CI runs it); what was and was not verified is in docs/ci.md.
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS base
ENV PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 XDG_CACHE_HOME=/tmp/cache
RUN useradd --create-home --uid 10001 auditor
WORKDIR /opt/genaudit
COPY pyproject.toml README.md ./
COPY auditor ./auditor
COPY trainer ./trainer

FROM base AS cuda
# onnxruntime-gpu's `cuda` and `cudnn` extras bring the CUDA runtime and cuDNN as wheels; the host needs only
# the NVIDIA driver and the container toolkit (`--gpus all`). The auditor preloads them (auditor.loading.session).
RUN pip install '.[cuda]' && rm -rf /root/.cache
USER auditor
WORKDIR /reports
ENTRYPOINT ["auditor"]
CMD ["--help"]

FROM base AS cpu
RUN pip install . && rm -rf /root/.cache
USER auditor
WORKDIR /reports
ENTRYPOINT ["auditor"]
CMD ["--help"]
