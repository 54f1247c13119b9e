#!/bin/sh
TOKIO_WORKER_THREADS=1 exec ${CARGO_TARGET_DIR:-target}/server/pulse-server "$@"
