"""RQ settings of a scoring worker: ``rq worker -c maiascore.workers.scoring -w maiascore.workers.Worker``."""
from config import settings
from maiascore.queue import ROLES, queue_name, served

REDIS_URL = settings().REDIS_URL
QUEUES = [queue_name(name) for name in served(ROLES["scoring"])]
