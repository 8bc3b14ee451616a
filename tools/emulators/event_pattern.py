"""Test support: EventBridge event-pattern matching, offline (moto's server lacks TestEventPattern).

Reads {"pattern": {...}, "events": [...]} on stdin and prints a JSON list of booleans, one per event.

Uses moto's in-process matcher (moto.events.models.EventPattern) with one documented behaviour added: EventBridge
matches fields inside arrays of objects (a pattern on `detail.configuration.metrics.metricStat.metric.dimensions`
matches when any element of the `metrics` array has it; see "Arrays in Amazon EventBridge event patterns" in the
EventBridge user guide). moto's flattening stops at arrays, so this subclass flattens them the way EventBridge
does: a path through an array of objects collects the values found in every element.
"""

import json
import sys

from moto.events.models import EventPattern


class ArrayAwareEventPattern(EventPattern):
    @staticmethod
    def _flatten_dict(node, prefix="", result=None):
        if result is None:
            result = {}
        if isinstance(node, dict):
            for key, value in node.items():
                path = f"{prefix}.{key}" if prefix else key
                if isinstance(value, dict) and value:
                    ArrayAwareEventPattern._flatten_dict(value, path, result)
                elif isinstance(value, list) and any(isinstance(v, dict) for v in value):
                    for element in value:
                        if isinstance(element, dict):
                            for inner_path, inner in ArrayAwareEventPattern._flatten_dict(element, path).items():
                                collected = result.setdefault(inner_path, [])
                                collected.extend(inner if isinstance(inner, list) else [inner])
                        else:
                            result.setdefault(path, []).append(element)
                else:
                    result[path] = value
        return result


def main():
    request = json.load(sys.stdin)
    pattern = ArrayAwareEventPattern(json.dumps(request["pattern"]), request["pattern"])
    print(json.dumps([pattern.matches_event(event) for event in request["events"]]))


if __name__ == "__main__":
    main()
