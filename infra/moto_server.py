"""The pinned moto server, with DynamoDB transactions that back up only what they touch.

moto's `transact_write_items` deep-copies every table a transaction names before it runs
(to roll back on a cancelled transaction), so each transaction costs time in proportion to
the whole table: on the ledger table, which gains a confirmation per write, a local run's
transactions slow from milliseconds to seconds (the bench's 160th plan change took 6 s and
timed out). DynamoDB itself costs per item. Here the backup is of the touched items only,
and a cancelled transaction restores those: the same outcome, at DynamoDB's cost.

Usage: python infra/moto_server.py [moto_server's arguments]"""
import copy

from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models import dynamo_type
from moto.dynamodb.models.table import Table
from moto.server import main

_transact = DynamoDBBackend.transact_write_items
_deepcopy = copy.deepcopy


def _keep_tables(value, *args, **kwargs):
    """deepcopy, except that a whole table is not copied (its items are backed up apart)."""
    return value if isinstance(value, Table) else _deepcopy(value, *args, **kwargs)


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
    copy.deepcopy = _keep_tables
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
        copy.deepcopy = _deepcopy


DynamoDBBackend.transact_write_items = transact_write_items

if __name__ == "__main__":
    main()
