use std::fs;

use super::*;

fn options(dir: &Path, env: &[(&str, &str)]) -> LoadOptions {
    LoadOptions {
        explicit: None,
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        current_dir: dir.to_path_buf(),
        system_file: dir.join("no-system-file.toml"),
    }
}

fn load_text(text: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("voicecast.toml"), text).unwrap();
    load(&options(dir.path(), env))
}

#[test]
fn built_in_defaults_are_product_md_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let c = load(&options(dir.path(), &[])).unwrap();
    assert_eq!(c.file, None);
    assert_eq!(c.api.base_url, "http://123.57.254.226");
    assert_eq!(c.api.version, "V2.0.6");
    assert_eq!(c.api.mode, ApiMode::V1);
    assert_eq!(c.api.timeout, Duration::from_secs(10));
    assert_eq!(c.limits.rate.get(), 10);
    assert_eq!(c.paths.campaigns, dir.path().join("campaigns"));
    assert_eq!(c.paths.database, dir.path().join("voicecast.db"));
    assert_eq!(c.reconcile.unknown_grace, Duration::from_secs(1800));
    assert_eq!(c.push.path, "/voicecast/push");
    let caps: Vec<String> = c
        .limits
        .per_number
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(caps, ["1/1m", "5/1h", "20/24h"]);
    assert_eq!(
        c.campaign_defaults.calling_hours,
        Some(vec!["09:00-20:00".to_string()])
    );
}

#[test]
fn the_example_file_states_exactly_the_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("voicecast.example.toml");
    fs::copy(&example, dir.path().join("voicecast.toml")).unwrap();
    let from_example = load(&options(dir.path(), &[])).unwrap();
    let empty = tempfile::tempdir().unwrap();
    fs::rename(
        dir.path().join("voicecast.toml"),
        empty.path().join("unused"),
    )
    .unwrap();
    let defaults = load(&options(dir.path(), &[])).unwrap();
    assert_eq!(
        Config {
            file: None,
            ..from_example
        },
        defaults
    );
}

#[test]
fn the_file_is_found_in_the_documented_order() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, rate: u32| {
        let path = dir.path().join(name);
        fs::write(&path, format!("[limits]\nrate = {rate}\n")).unwrap();
        path
    };
    let system = write("system.toml", 1);
    let mut o = options(dir.path(), &[]);
    o.system_file = system;
    assert_eq!(load(&o).unwrap().limits.rate.get(), 1);
    write("voicecast.toml", 2);
    assert_eq!(load(&o).unwrap().limits.rate.get(), 2);
    let from_env = write("env.toml", 3);
    o.env = vec![(CONFIG_ENV.into(), from_env.display().to_string())];
    assert_eq!(load(&o).unwrap().limits.rate.get(), 3);
    o.explicit = Some(write("explicit.toml", 4));
    assert_eq!(load(&o).unwrap().limits.rate.get(), 4);
    o.explicit = Some(dir.path().join("missing.toml"));
    assert!(load(&o).unwrap_err().0.contains("missing.toml"));
}

#[test]
fn environment_overrides_the_file_and_keeps_strings_as_written() {
    let c = load_text(
        "[limits]\nrate = 10\n",
        &[
            ("VOICECAST_LIMITS__RATE", "20"),
            ("VOICECAST_API__MODE", "v2"),
            ("VOICECAST_API__CUSTOMER", "C7"),
            ("VOICECAST_CAMPAIGN_DEFAULTS__CALLER", "02098765432"),
            ("VOICECAST_CONFIG_UNRELATED", "x"),
        ],
    )
    .unwrap();
    assert_eq!(c.limits.rate.get(), 20);
    assert_eq!(c.api.mode, ApiMode::V2);
    assert_eq!(c.api.customer, "C7");
    assert_eq!(c.campaign_defaults.caller.as_deref(), Some("02098765432"));
}

#[test]
fn unknown_and_bad_keys_are_named() {
    for (text, env, needle) in [
        ("[api]\ntimeout = 3\n", vec![], "timeout"),
        ("[limts]\nrate = 3\n", vec![], "limts"),
        ("", vec![("VOICECAST_LIMITS__RATEE", "3")], "ratee"),
        ("[limits]\nrate = 0\n", vec![], "limits.rate"),
        ("", vec![("VOICECAST_LIMITS__RATE", "fast")], "limits.rate"),
        ("[api]\nmode = \"v3\"\n", vec![], "api.mode"),
        (
            "[api]\nbase_url = \"http://h/openapi\"\n",
            vec![],
            "api.base_url",
        ),
        ("[api]\nversion = \"2.0.6\"\n", vec![], "api.version"),
        ("[api]\ncustomer = \"X2\"\n", vec![], "api.customer"),
        (
            "[api]\nvendor_timezone = \"CST\"\n",
            vec![],
            "api.vendor_timezone",
        ),
        ("[push]\nlisten = \"everywhere\"\n", vec![], "push.listen"),
        ("[log]\nlevel = \"verbose\"\n", vec![], "log.level"),
        (
            "[log]\nlevel = \"info,voicecast=loud\"\n",
            vec![],
            "log.level",
        ),
        (
            "[campaign_defaults]\nretry_after = \"later\"\n",
            vec![],
            "campaign_defaults.retry_after",
        ),
        ("[campaign_defaults]\ntemplat = \"x\"\n", vec![], "templat"),
        ("[limits\n", vec![], "voicecast.toml"),
        (
            "[reports]\ninterval_secs = 0\n",
            vec![],
            "reports.interval_secs",
        ),
        ("[intake]\nsettle_secs = -1\n", vec![], "intake.settle_secs"),
        (
            "[calendar]\nunknown_year = \"guess\"\n",
            vec![],
            "calendar.unknown_year",
        ),
        ("[calendar]\ndir = \"nowhere\"\n", vec![], "calendar.dir"),
        (
            "[limits]\nper_number = [\"5 per hour\"]\n",
            vec![],
            "limits.per_number",
        ),
        (
            "[campaign_defaults]\nblackout_dates = [\"tomorrow\"]\n",
            vec![],
            "campaign_defaults.blackout_dates",
        ),
        (
            "",
            vec![("VOICECAST_RECONCILE__INTERVAL_SECS", "soon")],
            "interval_secs",
        ),
    ] {
        let err = load_text(text, &env).unwrap_err().0;
        assert!(err.contains(needle), "{text:?} {env:?}: {err}");
    }
}

#[test]
fn seconds_may_be_fractional_in_the_file_and_the_environment() {
    let c = load_text(
        "[reports]\ninterval_secs = 0.2\n[intake]\nsettle_secs = 0\nrescan_secs = 1\n",
        &[("VOICECAST_RECONCILE__INTERVAL_SECS", "0.05")],
    )
    .unwrap();
    assert_eq!(c.reports.interval, Duration::from_millis(200));
    assert_eq!(c.intake.settle, Duration::ZERO);
    assert_eq!(c.intake.rescan, Duration::from_secs(1));
    assert_eq!(c.reconcile.interval, Duration::from_millis(50));
}

#[test]
fn a_password_in_the_file_is_refused_saying_where_it_goes() {
    let err = load_text("[api]\npassword = \"hunter2hunter2\"\n", &[])
        .unwrap_err()
        .0;
    assert!(
        err.contains("api.password") && err.contains(PASSWORD_ENV),
        "{err}"
    );
    assert!(!err.contains("hunter2hunter2"), "{err}");
}

#[test]
fn the_password_sources_are_tried_in_order() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("pw"), "from-file\n").unwrap();
    let creds = dir.path().join("creds");
    fs::create_dir(&creds).unwrap();
    fs::write(creds.join(PASSWORD_CREDENTIAL), "from-credential").unwrap();
    fs::write(
        dir.path().join("voicecast.toml"),
        "[api]\ncustomer = \"C2\"\npassword_file = \"pw\"\n",
    )
    .unwrap();
    let creds_dir = creds.display().to_string();
    let with = |env: &[(&str, &str)]| load(&options(dir.path(), env)).unwrap().credentials();
    let expect = |p: &str| Password::new(p);
    assert_eq!(
        with(&[
            (PASSWORD_ENV, "from-env"),
            ("CREDENTIALS_DIRECTORY", &creds_dir)
        ])
        .unwrap()
        .password,
        expect("from-env")
    );
    assert_eq!(
        with(&[("CREDENTIALS_DIRECTORY", &creds_dir)])
            .unwrap()
            .password,
        expect("from-file")
    );
    fs::write(
        dir.path().join("voicecast.toml"),
        "[api]\ncustomer = \"C2\"\n",
    )
    .unwrap();
    assert_eq!(
        with(&[("CREDENTIALS_DIRECTORY", &creds_dir)])
            .unwrap()
            .password,
        expect("from-credential")
    );
    let missing = with(&[]).unwrap_err().0;
    assert!(missing.contains(PASSWORD_ENV), "{missing}");
    fs::write(dir.path().join("voicecast.toml"), "").unwrap();
    assert!(
        with(&[(PASSWORD_ENV, "x")])
            .unwrap_err()
            .0
            .contains("api.customer")
    );
}

#[test]
fn relative_paths_resolve_against_the_file_folder() {
    let dir = tempfile::tempdir().unwrap();
    let etc = dir.path().join("etc");
    fs::create_dir(&etc).unwrap();
    let file = etc.join("vc.toml");
    fs::write(&file, "[paths]\ncampaigns = \"c\"\ndatabase = \"/var/lib/vc.db\"\n[intake]\ndnc_file = \"dnc.txt\"\n[calendar]\ndir = \"calendar\"\n").unwrap();
    fs::create_dir(etc.join("calendar")).unwrap();
    fs::write(
        etc.join("calendar/2027.json"),
        r#"{"year": 2027, "days": [{"name": "元旦", "date": "2027-01-01", "isOffDay": true}]}"#,
    )
    .unwrap();
    let mut o = options(dir.path(), &[]);
    o.explicit = Some(PathBuf::from("etc/vc.toml"));
    let c = load(&o).unwrap();
    assert_eq!(c.paths.campaigns, etc.join("c"));
    assert_eq!(c.paths.database, PathBuf::from("/var/lib/vc.db"));
    assert_eq!(c.intake.dnc_file, Some(etc.join("dnc.txt")));
    assert!(c.calendar.knows(2027), "read from etc/calendar/2027.json");
}

#[test]
fn a_reload_applies_the_live_settings_and_names_the_rest() {
    use crate::reload::needing_restart;
    // The same file, read again after each edit, as a reload does.
    let dir = tempfile::tempdir().unwrap();
    let read = |text: &str| {
        fs::write(dir.path().join("voicecast.toml"), text).unwrap();
        load(&options(dir.path(), &[])).unwrap()
    };
    let old = read("[limits]\nrate = 10\n");
    let live = read(
        "[limits]\nrate = 40\nburst = 2\n[log]\nlevel = \"debug\"\n\
         [campaign_defaults]\ncalling_hours = [\"08:00-21:00\"]\n\
         [calendar]\nunknown_year = \"weekdays\"\n",
    );
    assert!(needing_restart(&old, &live).is_empty());
    assert_ne!(old.calendar, live.calendar);
    let caps = read("[limits]\nper_number = [\"1/2s\"]\n");
    assert!(needing_restart(&old, &caps).is_empty(), "caps reload");
    let restart = read("[limits]\nrate = 40\nmax_in_flight = 4\n[api]\nmode = \"v2\"\n");
    assert_eq!(
        needing_restart(&old, &restart),
        ["[api]", "[limits] max_in_flight"]
    );
}
