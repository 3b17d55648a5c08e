import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from app import answer


def test_answers_who_it_is():
    status, _, body = answer("/", "test")
    assert status == 200
    assert json.loads(body) == {"service": "{{name}}", "environment": "test"}


def test_is_healthy():
    assert answer("/healthz", "test")[0] == 200
