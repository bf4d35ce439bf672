use super::*;

fn layer(toml_text: &str) -> PartialSettings {
    toml::from_str(toml_text).unwrap()
}

#[test]
fn defaults_resolve_with_a_template() {
    let own = layer("template = \"{1}您好\"");
    let s = own.over(&builtin_defaults()).resolve().unwrap();
    assert_eq!(s.template, TemplateSource::Text("{1}您好".into()));
    assert_eq!(s.cycle_play_times, 1);
    assert_eq!(s.max_attempts, 2);
    assert_eq!(s.retry_after, Duration::from_secs(1800));
    assert_eq!(s.retry_on, vec![RetryClass::NoAnswer, RetryClass::Busy]);
    assert_eq!(s.calling_hours.len(), 1);
    assert_eq!(s.timezone, TimeZone::get("Asia/Shanghai").unwrap());
}

#[test]
fn a_campaign_template_replaces_a_default_of_the_other_kind() {
    let defaults = layer("template_id = \"62\"").over(&builtin_defaults());
    let s = layer("template = \"hi {1}\"")
        .over(&defaults)
        .resolve()
        .unwrap();
    assert_eq!(s.template, TemplateSource::Text("hi {1}".into()));
    let both = layer("template = \"a\"\ntemplate_id = \"62\"");
    assert_eq!(both.check().unwrap_err().key, "template");
}

#[test]
fn unknown_keys_and_bad_values_name_the_key() {
    let err = toml::from_str::<PartialSettings>("templat = \"x\"").unwrap_err();
    assert!(err.to_string().contains("templat"), "{err}");
    for (text, key) in [
        ("template = \"x\"\nrate = 0", "rate"),
        ("template = \"x\"\nmax_attempts = 0", "max_attempts"),
        (
            "template = \"x\"\ncycle_play_times = 11",
            "cycle_play_times",
        ),
        (
            "template = \"x\"\ncalling_hours = [\"20:00-08:00\"]",
            "calling_hours",
        ),
        (
            "template = \"x\"\ncalling_hours = [\"9-5\"]",
            "calling_hours",
        ),
        ("template = \"x\"\ncalling_hours = []", "calling_hours"),
        ("template = \"x\"\ntimezone = \"Mars/Base\"", "timezone"),
        ("template = \"x\"\nstart_at = \"tomorrow\"", "start_at"),
        ("template = \"x\"\nretry_after = \"soon\"", "retry_after"),
        ("template = \"x\"\nmin_answer_rate = 30", "min_answer_rate"),
        (
            "template = \"x\"\nblackout_dates = [\"2026-02-30\"]",
            "blackout_dates",
        ),
        (
            "template = \"x\"\nblackout_dates = [\"12/24\"]",
            "blackout_dates",
        ),
        ("template = \"x\"\nsheet = 0", "sheet"),
        ("template = \"x\"\nsheet = \" \"", "sheet"),
        ("template_id = \"abc\"", "template_id"),
        ("caller = \"1\"", "template"),
    ] {
        let got = layer(text).over(&builtin_defaults()).resolve().unwrap_err();
        assert_eq!(got.key, key, "{text}: {got}");
    }
    assert!(toml::from_str::<PartialSettings>("retry_on = [\"later\"]").is_err());
    let err = toml::from_str::<PartialSettings>("calling_days = \"weekdays\"").unwrap_err();
    assert!(err.to_string().contains("not_holidays"), "{err}");
}

#[test]
fn windows_and_start_at_are_read_in_the_campaign_zone() {
    let s = layer(
        "template = \"x\"\ncalling_hours = [\"00:00-24:00\"]\nstart_at = \"2026-12-01 09:30\"",
    )
    .over(&builtin_defaults())
    .resolve()
    .unwrap();
    assert_eq!(
        s.calling_hours,
        vec![Window {
            start: Time::midnight(),
            end: None
        }]
    );
    assert_eq!(s.start_at.unwrap().to_string(), "2026-12-01T01:30:00Z");
}

#[test]
fn a_stored_campaign_fixes_its_text_and_follows_the_current_defaults_for_the_rest() {
    let own = layer("calling_hours = [\"10:00-12:00\"]\nrate = 5");
    let at_import = layer(
        "template = \"{1}您好\"\ncaller = \"02100000000\"\ncycle_play_times = 2\n\
         calling_hours = [\"09:00-20:00\"]\nretry_after = \"30m\"",
    );
    let stored = toml::to_string(&own.to_keep(&own.over(&at_import))).unwrap();
    let reloaded = layer(
        "template = \"另一段话\"\ncaller = \"02199999999\"\ncycle_play_times = 3\n\
         calling_hours = [\"00:00-24:00\"]\nretry_after = \"5m\"\nmax_attempts = 4",
    );
    let s = from_stored(&stored, &reloaded).unwrap();
    assert_eq!(s.template, TemplateSource::Text("{1}您好".into()));
    assert_eq!(s.caller.as_deref(), Some("02100000000"));
    assert_eq!(s.cycle_play_times, 2);
    assert_eq!(s.calling_hours[0].to_string(), "10:00-12:00");
    assert_eq!(s.rate, NonZeroU32::new(5));
    assert_eq!(s.retry_after, Duration::from_secs(300));
    assert_eq!(s.max_attempts, 4);
}
