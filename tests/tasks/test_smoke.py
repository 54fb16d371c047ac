import pytest

from tests.tasks import jobs

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_task_runs_and_its_result_is_stored(tasks, run_worker):
    result = jobs.add.enqueue(2, 3)
    assert result.status == "READY"
    run_worker()
    result.refresh()
    assert result.status == "SUCCESSFUL"
    assert result.return_value == 5
