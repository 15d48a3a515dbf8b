//! The capacity model (`onboard_tests::capacity_model`) against the
//! template and the page that states it: the template's numbers follow from
//! the model, and `docs/capacity-model.md` holds the table the model gives
//! for the template as it is.

use onboard_shared::names::ROTATION_GAP_SECS;
use onboard_tests::capacity_model::{
    self as model, MAX_PARALLELIZATION_FACTOR, ROUTER_BATCH, S3_PUTS_PER_PREFIX,
    SQS_MAPPING_CONCURRENCY, SSM_WRITES, TemplateNumbers,
};
use onboard_tests::template::{number, parameter_default, property, resource, template};
use onboard_tests::workspace;
use serde_json::Value;

/// The burst the design accepts without an alarm: the 100,000
/// sign-ups at once (an import, a launch).
const BURST: f64 = 100_000.0;
/// The users the template's defaults are sized for: 250,000 fit half the
/// standard tier.
const DESIGN_USERS: f64 = 250_000.0;

fn event(function: &str, name: &str) -> &'static Value {
    &resource(function)["Properties"]["Events"][name]["Properties"]
}

fn numbers() -> TemplateNumbers {
    let stream = event("StreamRouterFunction", "UsersStream");
    let archive = event("ArchiveConsumerFunction", "ArchiveQueue");
    TemplateNumbers {
        cognito_sender: template()["Parameters"]["EmailSourceArn"]["Default"] == "",
        router_batch_size: number(&stream["BatchSize"]).unwrap_or(100.0),
        router_parallelization_factor: number(&stream["ParallelizationFactor"]).unwrap_or(1.0),
        archive_batch_size: number(&archive["BatchSize"]).unwrap_or(10.0),
        archive_maximum_concurrency: number(&archive["ScalingConfig"]["MaximumConcurrency"])
            .unwrap_or(SQS_MAPPING_CONCURRENCY.value),
        parameter_writes_per_second: parameter_default("ParameterWritesPerSecond"),
        writer_messages_per_run: publish_consumer::MESSAGES_PER_RUN as f64,
        writer_period_seconds: 60.0,
        api_rate_limit: number(
            &resource("GreetingApi")["Properties"]["MethodSettings"][0]["ThrottlingRateLimit"],
        )
        .unwrap_or_else(|| panic!("the API's stage has no rate limit")),
    }
}

fn threshold(alarm: &str) -> f64 {
    property(resource(alarm), "Threshold")
}

#[test]
fn the_page_holds_the_table_the_model_gives_for_the_template() {
    let page = std::fs::read_to_string(workspace().join("docs/capacity-model.md")).unwrap();
    let table = model::table(&numbers());
    assert!(
        page.contains(&table),
        "docs/capacity-model.md does not hold the model's table; it is now:\n\n{table}"
    );
}

#[test]
fn behind_cognito_every_stage_carries_what_cognito_lets_in_at_its_default_quota() {
    let t = numbers();
    let stages = model::stages(&t);
    let cognito = stages
        .iter()
        .find(|s| s.name == "Cognito sign-up")
        .unwrap()
        .ceiling;
    for stage in stages
        .iter()
        .skip_while(|s| s.name != "Cognito sign-up")
        .skip(1)
    {
        assert!(
            stage.ceiling >= cognito,
            "{} carries {} sign-ups a second, under Cognito's {cognito}",
            stage.name,
            stage.ceiling
        );
    }
}

#[test]
fn the_mappings_stay_within_what_their_services_take() {
    let t = numbers();
    assert!(t.router_parallelization_factor <= MAX_PARALLELIZATION_FACTOR.value);
    assert!(t.archive_maximum_concurrency <= SQS_MAPPING_CONCURRENCY.value);
    // A backlog drained at full concurrency never throttles S3's prefix.
    let puts = t.archive_maximum_concurrency * t.archive_batch_size / model::ARCHIVE_BATCH.seconds;
    assert!(
        puts <= S3_PUTS_PER_PREFIX.value,
        "{puts} PUT/s over S3's {}",
        S3_PUTS_PER_PREFIX.value
    );
    // The writer leaves the account some of Parameter Store's writes.
    assert!(t.parameter_writes_per_second < SSM_WRITES.value);
}

#[test]
fn no_queue_age_alarm_sits_in_alarm_under_the_delay_the_design_accepts() {
    let t = numbers();
    let archive = model::archive_drain_seconds(BURST, &t);
    assert!(
        archive < threshold("ArchiveQueueAgeAlarm"),
        "a burst of {BURST} leaves the archive queue in {archive} s"
    );
    // A message the writer leaves to return (a leaf waiting to rotate)
    // comes back after the queue's visibility timeout.
    let visibility = property(resource("PublishQueue"), "VisibilityTimeout");
    let publish = model::publish_receive_seconds(BURST, &t) + visibility;
    assert!(
        publish < threshold("PublishQueueAgeAlarm"),
        "a burst of {BURST} is received by the writer in {publish} s"
    );
    // At the rate Cognito lets in, the router keeps up: a record waits for
    // its batching window and one batch.
    let window =
        number(&event("StreamRouterFunction", "UsersStream")["MaximumBatchingWindowInSeconds"])
            .unwrap_or(0.0);
    assert!((window + ROUTER_BATCH.seconds) * 1000.0 < threshold("StreamRouterIteratorAgeAlarm"));
}

#[test]
fn the_names_delay_alarm_follows_the_accepted_delay_and_holds_the_design_s_users() {
    let t = numbers();
    let accepted = parameter_default("AcceptedNamesDelaySeconds");
    assert_eq!(
        resource("NamesDelayAlarm")["Properties"]["Threshold"]["Ref"],
        "AcceptedNamesDelaySeconds"
    );
    let delay = model::names_delay_seconds(DESIGN_USERS, &t);
    assert!(
        delay < accepted,
        "{DESIGN_USERS} users wait {delay} s for their names, over the accepted {accepted}"
    );
    assert!(model::users_within_delay(accepted, &t) > DESIGN_USERS);
}

#[test]
fn the_publish_queue_returns_a_message_only_after_a_run_and_a_rotation_gap() {
    let visibility = property(resource("PublishQueue"), "VisibilityTimeout");
    let timeout = property(resource("PublishConsumerFunction"), "Timeout");
    assert!(visibility > timeout && visibility > ROTATION_GAP_SECS as f64);
}
