"""The training job (queue ``trainings``, job id ``train-<training id>``) and its recovery sweep.

Safe to run twice: only the run that claims the training works on it, a finished or
canceled training is left alone, and the registry keeps one model per training.
"""
import logging

from rq.timeouts import JobTimeoutException

from config import settings

log = logging.getLogger("maiascore.trainings.jobs")


def run_training(training_id):
    from maiascore.modeling import DatasetError, train
    from maiascore.trainings.datasets import load_training_data
    from maiascore.trainings.runs import RunAborted, TrainingRun
    from maiascore.trainings.service import schedule_successor

    run = TrainingRun.claim(training_id)
    if run is None:
        log.info("training %s is not due (finished, canceled, running elsewhere or early): nothing to do",
                 training_id)
        return "skipped"
    schedule_successor(run.doc)
    meta = run.meta
    with run:
        try:
            dataset, target = load_training_data(run.aid, meta)
            trained = train(dataset, target, params=meta.get("params") or {}, test_size=meta.get("testSize", 0.2),
                            seed=meta.get("seed", 42), progress=run.progress)
            model = run.succeed(trained)
        except RunAborted:
            log.info("training %s was canceled or taken over: stopped", training_id)
            return "aborted"
        except (DatasetError, ValueError) as exc:
            run.fail(f"Invalid dataset: {exc}" if isinstance(exc, DatasetError) else str(exc))
            return "failed"
        except JobTimeoutException:
            run.fail(f"Training exceeded the {settings().TRAINING_JOB_TIMEOUT} s limit (TRAINING_JOB_TIMEOUT)")
            return "failed"
        except Exception as exc:
            log.exception("training %s failed", training_id)
            run.fail(f"Training failed unexpectedly ({type(exc).__name__}); the worker log names training "
                     f"{training_id}")
            return "failed"
    log.info("training %s succeeded: model version %s", training_id, model["version"])
    return "succeeded"


def recover_trainings():
    from maiascore.trainings.service import recover_stranded_trainings

    recover_stranded_trainings()
