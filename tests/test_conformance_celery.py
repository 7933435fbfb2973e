"""Celery mode: a fixed sample of the corpus (about 25 JSONPath cases across categories) on
a real redis-server and real Celery worker processes, scored by the same pass rules as the
inline run. Every sampled case passes inline, so each must pass here too."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.conformance.cases import corpus_file, load_cases
from engine.conformance.score import ALL, JSONPATH, score

#: Substrings of case ids: two or so per category, the Map/Parallel/Task/Wait hot spots.
SAMPLE = (
    "test_base.py::TestSnfBase::test_state_fail_path",
    "test_base.py::TestSnfBase::test_state_pass_result",
    "test_wait.py::TestSfnWait::test_base_wait_seconds_path[-1]",
    "test_boolean_equals.py::TestBooleanEquals::test_boolean_equals#cases[1]",
    "test_numeric.py::TestNumerics::test_numeric_equals#cases[3]",
    "test_context_object.py::TestSnfBase::test_input_path[$$.Execution.Input]",
    "test_task_lambda.py::TestTaskLambda::test_raise_exception_catch",
    "test_task_service_lambda.py::TestTaskServiceLambda::test_raise_custom_exception",
    "test_task_service_lambda.py::TestTaskServiceLambda::test_no_such_function_catch",
    "test_task_lambda_data_limit_exceeded_on_large_utf8_response",
    "test_array.py::TestArray::test_array_contains#exec_hist_resp_0",
    "test_string_operations.py::TestStringOperations::test_string_split#exec_hist_resp_0",
    "test_logs.py::TestLogs::test_base[pass_result.json5_ALL_False]",
    "test_output.py::TestArgumentsBase::test_base_cases[BASE_EMPTY]",
    "test_base_scenarios.py::TestBaseScenarios::test_map_state_catch",
    "test_base_scenarios.py::TestBaseScenarios::test_map_state_retry_multiple_retriers",
    "test_base_scenarios.py::TestBaseScenarios::test_map_state_config_distributed_parameters",
    # Distributed Maps over ItemsPath run as Map Runs of child executions on the workers:
    # Lambda stand-ins in children, nested Map Runs, a bad threshold path.
    "test_base_scenarios.py::TestBaseScenarios::test_map_state_config_distributed_reentrant_lambda",
    "test_map_state_nested_config_distributed_no_max_max_concurrency",
    "test_base_scenarios.py::TestBaseScenarios::test_map_state_tolerated_failure_count_path[NoNumber]",
    "test_base_scenarios.py::TestBaseScenarios::test_parallel_state_order",
    "test_base_scenarios.py::TestBaseScenarios::test_max_concurrency_path[NoNumber]",
    "test_base_scenarios.py::TestBaseScenarios::test_lambda_invoke_with_retry_base",
    "test_lambda_task_service.py::TestTaskServiceLambda::test_invoke",
    "test_lambda_task.py::TestTaskLambda::test_invoke_bytes_payload",
    "test_timeouts.py::TestTimeouts::test_fixed_timeout_service_lambda_with_path",
    "test_express_sync.py::TestExpressSync::test_catch",
    "test_sfn_api.py::TestSnfApi::test_start_execution#exec_hist_resp",
)


@pytest.mark.worker
def test_sample_passes_on_real_workers(tmp_path: Path) -> None:
    from engine.conformance.celery_mode import CeleryHarness

    path = corpus_file("executions.jsonl")
    cases = [c for c in load_cases(path) if any(s in c.id for s in SAMPLE)]
    assert len(cases) >= len(SAMPLE), "a sampled case is missing from the corpus"
    with CeleryHarness(path, workers=1, concurrency=4, log_dir=tmp_path) as harness:
        results = {r["id"]: r for r in harness.run_all(cases, parallel=6)}
    report = score(cases, results)
    failures = [f"{f.id}: {f.reason[:300]}" for f in report.failures]
    assert {r.get("mode") for r in results.values()} == {"celery"}
    outputs = report.tally(ALL, JSONPATH, "output")
    histories = report.tally(ALL, JSONPATH, "history")
    assert outputs.passed == outputs.n, failures
    assert histories.passed == histories.n, failures
