"""Map and Parallel: items, selectors, batches, distributed runs, path-valued settings."""

from __future__ import annotations

from tests.test_interpreter_helpers import run

PASS_PROCESSOR = {"StartAt": "Item", "States": {"Item": {"Type": "Pass", "End": True}}}


def _map(**fields: object) -> dict[str, object]:
    return {"StartAt": "M", "States": {"M": {"Type": "Map", "End": True, **fields}}}


def test_item_selector_sees_the_item_and_its_index() -> None:
    found = run(
        _map(
            ItemProcessor=PASS_PROCESSOR,
            ItemsPath="$.xs",
            ItemSelector={"v.$": "$$.Map.Item.Value", "i.$": "$$.Map.Item.Index", "k.$": "$.k"},
        ),
        {"xs": ["a", "b"], "k": 7},
    )
    assert found.output == [{"v": "a", "i": 0, "k": 7}, {"v": "b", "i": 1, "k": 7}]


def test_legacy_parameters_and_iterator() -> None:
    found = run(
        _map(Iterator=PASS_PROCESSOR, Parameters={"v.$": "$$.Map.Item.Value"}),
        [1, 2],
    )
    assert found.output == [{"v": 1}, {"v": 2}]


def test_item_batcher_groups_items() -> None:
    found = run(
        _map(
            ItemProcessor=PASS_PROCESSOR,
            ItemBatcher={"MaxItemsPerBatch": 2, "BatchInput": {"b": 1}},
        ),
        [1, 2, 3],
    )
    assert found.output == [
        {"BatchInput": {"b": 1}, "Items": [1, 2]},
        {"BatchInput": {"b": 1}, "Items": [3]},
    ]


def test_items_path_must_select_an_array() -> None:
    found = run(_map(ItemProcessor=PASS_PROCESSOR, ItemsPath="$.o"), {"o": {"a": 1}})
    assert found.error == "States.Runtime"
    assert found.cause is not None and found.cause.endswith(
        'Reference path "$.o" must point to array.'
    )


def test_max_concurrency_path_takes_numbers_written_as_strings() -> None:
    ok = run(
        _map(ItemProcessor=PASS_PROCESSOR, ItemsPath="$.xs", MaxConcurrencyPath="$.m"),
        {"xs": [1, 2], "m": "1"},
    )
    assert ok.output == [1, 2]
    bad = run(
        _map(ItemProcessor=PASS_PROCESSOR, ItemsPath="$.xs", MaxConcurrencyPath="$.m"),
        {"xs": [1], "m": "many"},
    )
    assert bad.error == "States.Runtime"
    assert bad.cause is not None and bad.cause.endswith(
        'The MaxConcurrencyPath field refers to value "many" which is not a valid integer: $.m'
    )
    # AWS fails before MapStateStarted here.
    assert bad.types == ["ExecutionStarted", "MapStateEntered", "ExecutionFailed"]


def test_distributed_map_shows_only_its_map_run_in_the_history() -> None:
    processor = {
        **PASS_PROCESSOR,
        "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
    }
    found = run(_map(ItemProcessor=processor, Label="L"), ["x", "y"])
    assert found.output == ["x", "y"]
    assert found.types == [
        "ExecutionStarted",
        "MapStateEntered",
        "MapStateStarted",
        "MapRunStarted",
        "MapRunSucceeded",
        "MapStateSucceeded",
        "MapStateExited",
        "ExecutionSucceeded",
    ]
    started = found.events[3]["mapRunStartedEventDetails"]["mapRunArn"]
    assert ":mapRun:Machine/L:" in started


def test_tolerated_failures() -> None:
    processor = {
        "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
        "StartAt": "C",
        "States": {
            "C": {
                "Type": "Choice",
                "Choices": [{"Variable": "$", "NumericEquals": 1, "Next": "F"}],
                "Default": "S",
            },
            "F": {"Type": "Fail", "Error": "Bad"},
            "S": {"Type": "Succeed"},
        },
    }
    tolerated = run(_map(ItemProcessor=processor, ToleratedFailureCount=1), [0, 1, 2])
    assert tolerated.status == "SUCCEEDED"
    assert tolerated.output[1] == {"Error": "Bad", "Cause": None}
    exceeded = run(_map(ItemProcessor=processor, ToleratedFailureCount=0), [0, 1, 2])
    assert exceeded.error == "States.ExceedToleratedFailureThreshold"


def test_parallel_results_follow_branch_order() -> None:
    found = run(
        {
            "StartAt": "P",
            "States": {
                "P": {
                    "Type": "Parallel",
                    "Branches": [
                        {
                            "StartAt": f"B{i}",
                            "States": {f"B{i}": {"Type": "Pass", "Result": i, "End": True}},
                        }
                        for i in range(3)
                    ],
                    "ResultSelector": {"all.$": "$"},
                    "End": True,
                }
            },
        },
    )
    assert found.output == {"all": [0, 1, 2]}


# --- siblings of a failed branch or iteration -------------------------------------------

WAIT_LONG = {"StartAt": "Hold", "States": {"Hold": {"Type": "Wait", "Seconds": 50, "End": True}}}
FAIL_NOW = {"StartAt": "Boom", "States": {"Boom": {"Type": "Fail", "Error": "E", "Cause": "c"}}}


def test_a_failed_branch_aborts_its_running_siblings_with_their_events() -> None:
    # AWS (reference 7.7): the other branches are aborted; a branch in a Wait closes it with
    # WaitStateAborted, before the Parallel fails. The aborted Wait never completes.
    found = run(
        {"StartAt": "P", "States": {"P": {"Type": "Parallel", "Branches": [WAIT_LONG, FAIL_NOW],
                                          "End": True}}},
        {},
    )
    assert found.status == "FAILED" and found.error == "E"
    assert found.types == [
        "ExecutionStarted", "ParallelStateEntered", "ParallelStateStarted",
        "WaitStateEntered", "FailStateEntered", "WaitStateAborted",
        "ParallelStateFailed", "ExecutionFailed",
    ]


def test_a_failed_iteration_aborts_the_running_ones_and_a_caught_map_moves_on() -> None:
    # Item 0 waits, item 1 fails: iteration 0 is aborted (its Wait, then the iteration).
    found = run(
        {
            "StartAt": "M",
            "States": {
                "M": {
                    "Type": "Map",
                    "ItemProcessor": {
                        "StartAt": "Which",
                        "States": {
                            "Which": {"Type": "Choice", "Default": "Hold",
                                      "Choices": [{"Variable": "$", "NumericEquals": 1,
                                                   "Next": "Boom"}]},
                            "Hold": WAIT_LONG["States"]["Hold"],
                            "Boom": FAIL_NOW["States"]["Boom"],
                        },
                    },
                    "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "After"}],
                    "End": True,
                },
                "After": {"Type": "Pass", "End": True},
            },
        },
        [0, 1],
    )
    assert found.status == "SUCCEEDED"
    types = found.types
    failed = types.index("MapIterationFailed")
    assert types[failed + 1 : failed + 4] == ["WaitStateAborted", "MapIterationAborted",
                                              "MapStateFailed"]
    aborted = found.events[failed + 2]["mapIterationAbortedEventDetails"]
    assert aborted == {"name": "M", "index": 0}
    # The aborted iteration's timer fires later (the inline runner runs every timer) and
    # changes nothing: its Wait never exits.
    assert "WaitStateExited" not in types
    assert types[-3:] == ["PassStateEntered", "PassStateExited", "ExecutionSucceeded"]


def test_a_branch_aborted_inside_its_own_parallel_stops_that_parallels_branches_too() -> None:
    inner = {"StartAt": "Inner", "States": {"Inner": {"Type": "Parallel", "Branches": [WAIT_LONG],
                                                      "End": True}}}
    found = run(
        {"StartAt": "P", "States": {"P": {"Type": "Parallel", "Branches": [inner, FAIL_NOW],
                                          "End": True}}},
        {},
    )
    assert found.status == "FAILED"
    assert found.types[-3:] == ["ParallelStateAborted", "ParallelStateFailed", "ExecutionFailed"]
    # The inner branch's Wait, whose timer the inline runner fires later, logs nothing.
    assert "WaitStateExited" not in found.types
