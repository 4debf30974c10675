//! deploy/ and the settings cannot drift apart: every `RSVP_*` variable a
//! file under deploy/ names is a real setting (the table of
//! `src/settings.rs`'s module doc), and compose and Kubernetes set every
//! setting production needs.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The settings: the variables in the first column of the table in the
/// module doc of settings.rs (`//! | `RSVP_X` | default | meaning |`).
fn known_settings(settings_rs: &str) -> BTreeSet<String> {
    settings_rs
        .lines()
        .filter_map(|line| line.strip_prefix("//! |"))
        .filter_map(|row| row.split('|').next())
        .flat_map(|first_column| {
            first_column
                .split('`')
                .skip(1)
                .step_by(2)
                .filter(|name| name.starts_with("RSVP_"))
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Every `RSVP_*` name in `text`, comments included (a comment naming a
/// wrong variable misleads as much as a setting). `RSVP_*` alone is a family,
/// not a name.
fn names_used(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("RSVP_") {
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
            .unwrap_or(tail.len());
        if end > "RSVP_".len() {
            names.insert(tail[..end].to_owned());
        }
        rest = &tail[end..];
    }
    names
}

/// The `RSVP_*` names `text` gives a value: `NAME=value` (env files,
/// Dockerfile ENV), `NAME: value` (YAML maps), `- name: NAME` (Kubernetes
/// env lists). Comments do not count.
fn names_set(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in text.lines() {
        let line = line.trim_start();
        if line.starts_with('#') {
            continue;
        }
        let line = line.trim_start_matches("- ").trim_start_matches("ENV ").trim_start();
        let candidate = line
            .strip_prefix("name:")
            .map_or(line, str::trim_start)
            .trim_matches('"');
        let Some(name) = names_used(candidate).into_iter().next() else {
            continue;
        };
        let after = candidate[name.len()..].trim_start_matches('"');
        let has_value = line.starts_with("name:")
            || after.strip_prefix('=').is_some_and(|v| !v.trim().is_empty())
            || after.strip_prefix(':').is_some_and(|v| !v.trim().is_empty());
        if candidate.starts_with(&name) && has_value {
            names.insert(name);
        }
    }
    names
}

fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substituted = previous + usize::from(ca != *cb);
            previous = row[j + 1];
            row[j + 1] = substituted.min(previous + 1).min(row[j] + 1);
        }
    }
    row[b.len()]
}

/// One line per name in `files` that is not a setting, with the closest one.
fn unknown_names(files: &[(String, String)], known: &BTreeSet<String>) -> Vec<String> {
    let mut problems = Vec::new();
    for (file, text) in files {
        for name in names_used(text).difference(known) {
            let closest = known
                .iter()
                .min_by_key(|k| distance(name, k))
                .map_or("", String::as_str);
            problems.push(format!("{file}: {name} is not a setting (did you mean {closest}?)"));
        }
    }
    problems
}

/// The names of `required` that none of `files` sets.
fn missing(files: &[&(String, String)], required: &[&str]) -> Vec<String> {
    let set: BTreeSet<String> = files.iter().flat_map(|(_, text)| names_set(text)).collect();
    required
        .iter()
        .filter(|name| !set.contains(**name))
        .map(|name| (*name).to_owned())
        .collect()
}

/// Every file under deploy/, as (path relative to the repository, text).
fn deploy_files() -> Vec<(String, String)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else {
                out.push(path);
            }
        }
    }
    let root = repo();
    let mut paths = Vec::new();
    walk(&root.join("deploy"), &mut paths);
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let name = path.strip_prefix(&root).unwrap().display().to_string();
            (name, text)
        })
        .collect()
}

fn settings() -> BTreeSet<String> {
    let path = repo().join("crates/rsvp-server/src/settings.rs");
    let known = known_settings(&std::fs::read_to_string(&path).unwrap());
    // A table that moved or changed shape must fail here, not let every name through.
    for name in [
        "RSVP_BIND",
        "RSVP_DATABASE_URL",
        "RSVP_PUBLIC_URL",
        "RSVP_ADMIN_TOKEN",
        "RSVP_SMTP_PASSWORD",
    ] {
        assert!(
            known.contains(name),
            "{name} is missing from the table of {}: {known:?}",
            path.display()
        );
    }
    known
}

#[test]
fn every_variable_named_under_deploy_is_a_real_setting() {
    let files = deploy_files();
    assert!(
        files.len() >= 10,
        "deploy/ has its files: {:?}",
        files.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    let problems = unknown_names(&files, &settings());
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn compose_and_kubernetes_set_every_setting_production_needs() {
    let files = deploy_files();
    let pick =
        |prefix: &str| -> Vec<&(String, String)> { files.iter().filter(|(n, _)| n.starts_with(prefix)).collect() };
    let required = ["RSVP_DATABASE_URL", "RSVP_PUBLIC_URL", "RSVP_ADMIN_TOKEN"];
    let compose: Vec<_> = files
        .iter()
        .filter(|(n, _)| n == "deploy/compose.yaml" || n == "deploy/rsvp.env.example")
        .collect();
    assert_eq!(compose.len(), 2, "compose.yaml and the env file it reads");
    assert_eq!(missing(&compose, &required), Vec::<String>::new(), "compose");
    let kubernetes = pick("deploy/kubernetes/");
    assert_eq!(missing(&kubernetes, &required), Vec::<String>::new(), "kubernetes");
    // The systemd unit runs on the embedded SQLite unless told otherwise.
    let systemd = pick("deploy/systemd/");
    assert_eq!(
        missing(&systemd, &["RSVP_PUBLIC_URL", "RSVP_ADMIN_TOKEN"]),
        Vec::<String>::new(),
        "systemd"
    );
    // Secrets are in the Secret, not in the ConfigMap.
    let text = |name: &str| &files.iter().find(|(n, _)| n == name).unwrap().1;
    let secret = names_set(text("deploy/kubernetes/secret.yaml"));
    for name in ["RSVP_DATABASE_URL", "RSVP_ADMIN_TOKEN", "RSVP_METRICS_TOKEN"] {
        assert!(secret.contains(name), "the Secret holds {name}");
        assert!(!names_set(text("deploy/kubernetes/configmap.yaml")).contains(name));
    }
    for user in [
        "deploy/kubernetes/deployment.yaml",
        "deploy/kubernetes/job-migrate.yaml",
    ] {
        assert!(
            text(user).contains("secretRef:") && text(user).contains("configMapRef:"),
            "{user} reads both"
        );
    }
}

#[test]
fn the_image_listens_on_every_interface_as_a_user_and_probes_readyz() {
    let dockerfile = std::fs::read_to_string(repo().join("deploy/Dockerfile")).unwrap();
    assert!(
        dockerfile.contains("RSVP_BIND=0.0.0.0:8080"),
        "127.0.0.1 is unreachable in a container"
    );
    assert!(
        dockerfile
            .lines()
            .any(|l| l.starts_with("USER ") && !l.contains("root") && !l.contains(" 0"))
    );
    assert!(dockerfile.contains(r#"HEALTHCHECK"#) && dockerfile.contains(r#"CMD ["rsvp", "healthcheck"]"#));
}

#[test]
fn the_checker_catches_a_misspelt_variable_and_an_unset_required_one() {
    let known = known_settings(
        "//! | variable | default | meaning |\n//! |---|---|---|\n//! | `RSVP_DATABASE_URL` | x | y |\n\
         //! | `RSVP_SMTP_USERNAME`, `RSVP_SMTP_PASSWORD` | unset | z |\n//! see `RSVP_NOT_A_ROW`\n",
    );
    assert_eq!(
        known.into_iter().collect::<Vec<_>>(),
        ["RSVP_DATABASE_URL", "RSVP_SMTP_PASSWORD", "RSVP_SMTP_USERNAME"]
    );
    let known = settings();
    let sample = vec![(
        "sample.env".to_owned(),
        "# every RSVP_* variable\nRSVP_DATABASE_ULR=postgres://db/rsvp\nRSVP_ADMIN_TOKEN=0123456789abcdef\n".to_owned(),
    )];
    assert_eq!(
        unknown_names(&sample, &known),
        ["sample.env: RSVP_DATABASE_ULR is not a setting (did you mean RSVP_DATABASE_URL?)"]
    );
    assert_eq!(
        missing(&[&sample[0]], &["RSVP_DATABASE_URL", "RSVP_ADMIN_TOKEN"]),
        ["RSVP_DATABASE_URL"]
    );
    // Mentioned in a comment, or given no value, is not set.
    let yaml = (
        "k8s.yaml".to_owned(),
        "# RSVP_PUBLIC_URL: https://x\nenv:\n  - name: RSVP_BIND\n    value: \"0.0.0.0:8080\"\n  RSVP_LOG: \"info\"\n  RSVP_ADMIN_TOKEN:\n".to_owned(),
    );
    assert_eq!(
        names_set(&yaml.1).into_iter().collect::<Vec<_>>(),
        ["RSVP_BIND", "RSVP_LOG"]
    );
    assert_eq!(missing(&[&yaml], &["RSVP_PUBLIC_URL"]), ["RSVP_PUBLIC_URL"]);
}
