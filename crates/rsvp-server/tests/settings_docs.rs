//! The settings' documentation cannot drift from the code: the reference in
//! docs/OPERATIONS.md and `.env.example` are what `rsvp settings` prints
//! (regenerate both with `RSVP_BLESS=1 cargo nextest run -E 'binary(settings_docs)'`),
//! and the binary refuses an unknown `RSVP_*` variable by name.

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn rsvp_settings(args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_rsvp"))
        .arg("settings")
        .args(args)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

const BEGIN: &str = "<!-- settings:begin -->\n";
const END: &str = "<!-- settings:end -->";

#[test]
fn the_configuration_reference_in_operations_md_is_what_rsvp_settings_prints() {
    let path = repo().join("docs/OPERATIONS.md");
    let text = std::fs::read_to_string(&path).unwrap();
    let start = text.find(BEGIN).expect("docs/OPERATIONS.md has the settings markers") + BEGIN.len();
    let end = text.find(END).expect("docs/OPERATIONS.md has the settings end marker");
    let generated = rsvp_settings(&[]);
    if std::env::var_os("RSVP_BLESS").is_some() {
        std::fs::write(&path, format!("{}{generated}{}", &text[..start], &text[end..])).unwrap();
        return;
    }
    assert_eq!(
        &text[start..end],
        generated,
        "docs/OPERATIONS.md's settings differ from `rsvp settings`: regenerate with RSVP_BLESS=1"
    );
    assert!(generated.contains("| `RSVP_DATABASE_URL` |"), "{generated}");
}

#[test]
fn the_env_example_is_what_rsvp_settings_prints() {
    let path = repo().join(".env.example");
    let generated = rsvp_settings(&["--env-example"]);
    if std::env::var_os("RSVP_BLESS").is_some() {
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    assert_eq!(
        std::fs::read_to_string(&path).unwrap_or_default(),
        generated,
        ".env.example differs from `rsvp settings --env-example`: regenerate with RSVP_BLESS=1"
    );
    assert!(generated.contains("# RSVP_BIND=127.0.0.1:8080\n"), "{generated}");
}

#[test]
fn a_misspelt_variable_stops_start_up_naming_the_closest_setting() {
    let output = Command::new(env!("CARGO_BIN_EXE_rsvp"))
        .arg("migrate")
        .env("RSVP_DATABASE_ULR", "postgres://nowhere")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("RSVP_DATABASE_ULR") && stderr.contains("did you mean RSVP_DATABASE_URL?"),
        "{stderr}"
    );
}

#[test]
fn serve_help_lists_every_setting_with_its_variable_and_default() {
    let output = Command::new(env!("CARGO_BIN_EXE_rsvp"))
        .args(["serve", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&output.stdout);
    let reference = rsvp_settings(&[]);
    let variables: Vec<&str> = reference
        .lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .filter_map(|rest| rest.split('`').next())
        .collect();
    assert!(variables.len() >= 25, "{reference}");
    for variable in variables {
        assert!(
            help.contains(&format!("[env: {variable}]")),
            "{variable} is not in --help:\n{help}"
        );
    }
    assert!(help.contains("[default: 127.0.0.1:8080]"), "{help}");
}

#[test]
fn flags_win_over_the_environment_which_wins_over_the_config_file() {
    let dir = std::env::temp_dir().join(format!("rsvp-settings-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("rsvp.env");
    std::fs::write(&file, "RSVP_BIND=nowhere-from-the-file\nRSVP_DB_POOL_SIZE=0\n").unwrap();
    let run = |extra: &[&str], env: &[(&str, &str)]| {
        let output = Command::new(env!("CARGO_BIN_EXE_rsvp"))
            .arg("migrate")
            .args(extra)
            .env("RSVP_CONFIG_FILE", &file)
            .env("RSVP_DATA_DIR", &dir)
            .envs(env.iter().copied())
            .output()
            .unwrap();
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    // The file's invalid bind is what start-up names...
    assert!(run(&[], &[]).contains("RSVP_BIND"), "the file is read");
    // ...unless the environment gives another, then the file's pool size fails...
    let stderr = run(&[], &[("RSVP_BIND", "127.0.0.1:0")]);
    assert!(stderr.contains("RSVP_DB_POOL_SIZE"), "{stderr}");
    // ...unless a flag gives one too.
    let stderr = run(
        &["--db-pool-size", "2", "--bind", "127.0.0.1:0"],
        &[("RSVP_DB_POOL_SIZE", "0")],
    );
    assert!(!stderr.contains("invalid setting"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}
