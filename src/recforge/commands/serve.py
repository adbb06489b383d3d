"""``recforge serve ARTIFACT_DIR``: serve a saved model over HTTP (FastAPI + uvicorn)."""

from __future__ import annotations

from typing import Annotated

import typer

from recforge.commands._common import cli_errors


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve(
        artifact: Annotated[str, typer.Argument(metavar="ARTIFACT_DIR", help="Artifact directory written by 'recforge fit' or rf.save.")],
        host: Annotated[str, typer.Option("--host", help="Interface to bind; loopback by default.")] = "127.0.0.1",
        port: Annotated[int, typer.Option("--port", help="TCP port.", min=0, max=65535)] = 8000,
        workers: Annotated[int, typer.Option("--workers", help="uvicorn worker processes (each loads the model).", min=1)] = 1,
        max_concurrency: Annotated[int, typer.Option("--max-concurrency", help="Requests in flight per worker before answering 503.", min=1)] = 256,
        max_k: Annotated[int, typer.Option("--max-k", help="Largest k a request may ask for.", min=1)] = 1000,
        max_batch: Annotated[int, typer.Option("--max-batch", help="Most users scored together in one micro-batch.", min=1)] = 256,
        retrieval: Annotated[str, typer.Option("--retrieval", help="auto | faiss | torch | torch-compile | model")] = "auto",
        index: Annotated[str, typer.Option("--index", help="FAISS index for embedding models: auto | flat | hnsw")] = "auto",
        hnsw_threshold: Annotated[int, typer.Option("--hnsw-threshold", help="Catalogue size from which --index auto uses HNSW.", min=1)] = 200_000,
        save_index: Annotated[bool, typer.Option("--save-index", help="Build the FAISS index, measure its recall@10 and store both in the artifact before serving.")] = False,
        threads: Annotated[int, typer.Option("--threads", help="Compute threads (BLAS, FAISS, torch) per worker; 1 is fastest on a busy machine.", min=1)] = 1,
        score_cache_mb: Annotated[int, typer.Option("--score-cache-mb", help="Precompute known users' score rows at start-up when they fit in this many MiB (0: off).", min=0)] = 256,
        scoring_thread: Annotated[bool, typer.Option("--scoring-thread", help="Score on a worker thread instead of inline on the event loop.")] = False,
        log_level: Annotated[str, typer.Option("--log-level", help="uvicorn log level.")] = "warning",
    ) -> None:
        """Serve ARTIFACT_DIR: /recommend, /similar, /health, /metadata, /metrics (see /docs)."""
        with cli_errors():
            import os
            from pathlib import Path

            import pydantic

            from recforge.errors import ConfigError, require

            require("fastapi", "serve")
            require("uvicorn", "serve")
            import uvicorn

            from recforge.artifacts import read_manifest

            try:
                from recforge.serve.settings import Settings

                settings = Settings(artifact=Path(artifact), max_concurrency=max_concurrency, max_k=max_k,
                                    max_batch=max_batch, retrieval=retrieval, index=index,  # type: ignore[arg-type]
                                    hnsw_threshold=hnsw_threshold, scoring_thread=scoring_thread,
                                    score_cache_mb=score_cache_mb,
                                    threads=threads)
            except pydantic.ValidationError as exc:
                err = exc.errors()[0]
                field = ".".join(str(p) for p in err["loc"])
                raise ConfigError(f"--{field.replace('_', '-')}: {err['msg']} (got {err.get('input')!r})") from None
            read_manifest(artifact)  # checksums first: a corrupted artifact fails here, exit 2
            if save_index:
                from recforge.serve.index import attach

                info = attach(artifact, kind=index, hnsw_threshold=hnsw_threshold)
                typer.echo(f"stored {info['kind']} index: recall@10 = {info['recall@10']:.4f} "
                           f"over {info['recall_queries']} users", err=True)
            if host not in ("127.0.0.1", "localhost", "::1"):
                typer.echo(f"warning: binding {host}: the service has no authentication", err=True)
            if workers > 1:
                from recforge.serve.app import SETTINGS_ENV

                os.environ[SETTINGS_ENV] = settings.model_dump_json()
                target = "recforge.serve.app:app_from_env"
                typer.echo(f"serving {artifact} on http://{host}:{port} with {workers} workers", err=True)
                uvicorn.run(target, factory=True, host=host, port=port, workers=workers,
                            log_level=log_level, access_log=False)
                return
            from recforge.serve import create_app

            application = create_app(settings)
            typer.echo(f"serving {application.state.engine.model.name} from {artifact} on http://{host}:{port} "
                       f"(retrieval: {application.state.engine.retrieval})", err=True)
            uvicorn.run(application, host=host, port=port, log_level=log_level, access_log=False)
