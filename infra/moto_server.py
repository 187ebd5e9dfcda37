"""The pinned moto server, with DynamoDB's item operations one at a time and transactions
that back up only what they touch.

- moto serves each request on its own thread and its DynamoDB has no lock: a conditional
  write checks and then writes, a query iterates a partition while another thread adds to
  it. DynamoDB itself applies each conditional write and transaction atomically, so here
  every item operation holds one lock (each takes milliseconds, so the stack stays fast).
- moto's `transact_write_items` deep-copies every table a transaction names before it runs
  (to roll back on a cancelled transaction), so each transaction costs time in proportion
  to the whole table: on the ledger table, which gains a confirmation per write, a local
  run's transactions slow from milliseconds to seconds (the bench's 160th plan change took
  6 s and timed out). DynamoDB itself costs per item. Here the backup is of the touched
  items only, and a cancelled transaction restores those: the same outcome, at DynamoDB's
  cost.

Usage: python infra/moto_server.py [moto_server's arguments]"""
import copy
import functools
import threading

from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models import dynamo_type
from moto.dynamodb.models.table import Table
from moto.server import main

_lock = threading.RLock()
_transact = DynamoDBBackend.transact_write_items
_deepcopy = copy.deepcopy
# Set while this thread runs a transaction: its whole-table copies are skipped (the touched
# items are backed up apart). Per thread, so nothing else ever sees a table left uncopied.
_transacting = threading.local()


def _deepcopy_but_tables_in_transactions(value, *args, **kwargs):
    if isinstance(value, Table) and getattr(_transacting, "on", False):
        return value
    return _deepcopy(value, *args, **kwargs)


def transact_write_items(self, transact_items):
    backups = []
    for entry in transact_items:
        _, op = next(iter(entry.items()))
        table = self.tables.get(op.get("TableName"))
        key = op.get("Key") or op.get("Item") or {}
        if table is None or table.hash_key_attr not in key:
            continue
        h = dynamo_type.DynamoType(key[table.hash_key_attr])
        backups.append((table, h, h in table.items, _deepcopy(table.items.get(h))))
    _transacting.on = True
    try:
        return _transact(self, transact_items)
    except Exception:
        for table, h, present, saved in reversed(backups):
            if present:
                table.items[h] = saved
            else:
                table.items.pop(h, None)
        raise
    finally:
        _transacting.on = False


def _one_at_a_time(method):
    @functools.wraps(method)
    def run(*args, **kwargs):
        with _lock:
            return method(*args, **kwargs)
    return run


copy.deepcopy = _deepcopy_but_tables_in_transactions
DynamoDBBackend.transact_write_items = transact_write_items
for _name in ("put_item", "update_item", "delete_item", "get_item", "query", "scan",
              "transact_write_items"):
    setattr(DynamoDBBackend, _name, _one_at_a_time(getattr(DynamoDBBackend, _name)))

if __name__ == "__main__":
    main()
