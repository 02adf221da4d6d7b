"""Starts moto's server with three performance fixes that keep its behaviour, and one fix
that makes it isolate requests as DynamoDB does.

moto 5.2.1 backs up every table a TransactWriteItems touches with copy.deepcopy before
applying it, so each transaction costs time proportional to the whole table (about 1.5 s
with the demo data loaded). This launcher replaces that backup with a snapshot of only
the items the transaction touches, restored the same way on failure. Conditions,
cancellation reasons and the order of checks are moto's own code, unchanged.

Every Query lists, and sorts, every item of the table (Table.all_items) before looking at
the key condition: about 2 s per query with the demo loaded. A query on the base table or on
a local secondary index names one partition of the table's own hash key, so here it lists
that partition only, sorted the same way; a query on a global index lists the items whose
index hash attribute equals the condition (what moto's own check keeps), without sorting the
rest. Scans are unchanged.

moto also matches each request's host against every service's URL patterns (hundreds of
regular expressions) on every request; the answer for a host never changes, so it is
memoized here.

moto applies a request's conditions and writes without a lock, and its server runs requests
on threads: two transactions conditioned on the same version can both pass and one update is
lost, which DynamoDB never does (8 threads x 100 conditional increments ended at 799 here).
Two writes to one table at once can also get the same stream sequence number
(StreamShard.add numbers a record by the length of its list before appending), so a reader
of the stream may be handed the same records again, or miss one. This launcher
serializes requests, as DynamoDB's isolation would: the emulator's work is Python under one
interpreter lock anyway, so little is lost.

Usage: python moto_server.py -H 127.0.0.1 -p 5599   (same arguments as moto_server)
"""

import copy
import sys
import threading

import moto
from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import (
    ConditionalCheckFailed,
    MockValidationException,
    MultipleTransactionsException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table
from moto.moto_server.werkzeug_app import DomainDispatcherApplication

PATCHED_FOR = "5.2.1"


def transact_write_items(self, transact_items):
    if len(transact_items) > 100:
        raise TooManyTransactionsException()

    # (table name, key, item as DynamoDB JSON or None), in the order written.
    snapshots = []

    def rollback():
        for table_name, key, original in reversed(snapshots):
            if original is None:
                try:
                    self.delete_item(table_name, key)
                except Exception:  # the item was never written
                    pass
            else:
                self.put_item(table_name, original)

    target_items = set()

    def check_unicity(table_name, key):
        item = (str(table_name), str(dict(sorted(key.items()))))
        if item in target_items:
            raise MultipleTransactionsException()
        target_items.add(item)

    errors = []
    for item in transact_items:
        original_item = None
        if len(list(item.keys())) > 1:
            raise TransactWriteSingleOpException
        try:
            op_type, op = next(iter(item.items()))
            if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
                raise ValueError("Unsupported transaction operation")
            table_name = op["TableName"]
            condition_expression = op.get("ConditionExpression")
            names = op.get("ExpressionAttributeNames")
            values = op.get("ExpressionAttributeValues")
            if op_type == "Put":
                attrs = op["Item"]
                table = self.get_table(table_name)
                key = {table.hash_key_attr: attrs[table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = attrs[table.range_key_attr]
            else:
                key = op["Key"]
            check_unicity(table_name, key)
            current = self.get_item(table_name, key)
            if condition_expression is not None:
                condition_op = get_filter_expression(condition_expression, names, values)
                if not condition_op.expr(current):
                    if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                        original_item = current.to_json()["Attributes"]
                    raise ConditionalCheckFailed(item=original_item)
            if op_type != "ConditionCheck":
                snapshots.append((table_name, key, copy.deepcopy(current.to_json()["Attributes"]) if current else None))
            if op_type == "Put":
                self.put_item(table_name, op["Item"], condition_expression=condition_expression,
                              expression_attribute_names=names, expression_attribute_values=values)
            elif op_type == "Delete":
                self.delete_item(table_name, key, condition_expression=condition_expression,
                                 expression_attribute_names=names, expression_attribute_values=values)
            elif op_type == "Update":
                self.update_item(table_name, key, update_expression=op["UpdateExpression"],
                                 condition_expression=condition_expression,
                                 expression_attribute_names=names, expression_attribute_values=values)
            errors.append((None, None, None))
        except (MultipleTransactionsException, MockValidationException):
            rollback()
            raise
        except ConditionalCheckFailed as e:
            errors.append(("ConditionalCheckFailed", str(e.message), original_item))
        except Exception as e:  # noqa: E722, as in moto
            errors.append((type(e).__name__, str(e), original_item))

    if any(code is not None for code, _, _ in errors):
        rollback()
        raise TransactionCanceledException(errors)


_query = Table.query
_all_items = Table.all_items
_partition = threading.local()


def all_items(self):
    scope = getattr(_partition, "scope", None)
    if scope is None or scope[0] is not self:
        return _all_items(self)
    _, attr, value = scope
    if attr == self.hash_key_attr:
        hash_set = self.items.get(value)
        items = [] if hash_set is None else list(hash_set.values()) if self.range_key_attr else [hash_set]
    else:
        items = [i for h in self.items.values() for i in (h.values() if self.range_key_attr else [h]) if i.attrs.get(attr) is not None and i.attrs[attr] == value]
    return sorted(items, key=lambda x: (x.hash_key, x.range_key) if x.range_key else x.hash_key)


def query(self, hash_key, *args, **kwargs):
    index_name = kwargs.get("index_name", args[6] if len(args) > 6 else None)
    conditions = kwargs.get("hash_key_conditions") or []
    if index_name is None or index_name in {i.name for i in self.indexes}:
        # The base table and local indexes share the table's hash key.
        scope = (self, self.hash_key_attr, hash_key) if hash_key is not None else None
    elif len(conditions) == 1:
        # A global index with one hash attribute: moto keeps the items whose attribute equals it.
        scope = (self, conditions[0][0], conditions[0][1])
    else:
        scope = None
    if scope is None:
        return _query(self, hash_key, *args, **kwargs)
    _partition.scope = scope
    try:
        return _query(self, hash_key, *args, **kwargs)
    finally:
        _partition.scope = None


_dispatch = DomainDispatcherApplication.__call__
_one_request_at_a_time = threading.Lock()


def dispatch(self, environ, start_response):
    # moto builds the whole response inside the call, so the lock covers all of its work.
    with _one_request_at_a_time:
        return _dispatch(self, environ, start_response)


_backend_for_host = DomainDispatcherApplication.get_backend_for_host
_backend_cache = {}


def get_backend_for_host(self, host):
    if host not in _backend_cache:
        _backend_cache[host] = _backend_for_host(self, host)
    return _backend_cache[host]


if moto.__version__ != PATCHED_FOR:
    sys.stderr.write(f"moto_server.py: written for moto {PATCHED_FOR}, found {moto.__version__}; starting unpatched\n")
else:
    DynamoDBBackend.transact_write_items = transact_write_items
    DomainDispatcherApplication.get_backend_for_host = get_backend_for_host
    DomainDispatcherApplication.__call__ = dispatch
    Table.all_items = all_items
    Table.query = query

if __name__ == "__main__":
    from moto.server import main

    # Werkzeug colours its request log on every POSIX stream; scripts/dev keeps it in
    # .local/moto.log, where the escape codes are noise. Colours for a terminal only.
    import werkzeug.serving

    if hasattr(werkzeug.serving, "_log_add_style") and not sys.stderr.isatty():
        werkzeug.serving._log_add_style = False

    main(sys.argv[1:])
