//! At most two glibc malloc arenas for `rsvp serve`, unless the operator
//! sets `MALLOC_ARENA_MAX` (any value wins).
//!
//! glibc gives a thread that allocates under contention an arena of its own,
//! up to eight per core, and keeps what each arena grew. Under two bulk
//! clients the server peaked at 63-66 MB with glibc's default and at 55-56
//! MB with two arenas, at the same rates (docs/DECISIONS.md). glibc reads
//! the setting only when a process starts, and changing it from inside
//! (`mallopt`) needs `unsafe`, which this workspace forbids: so `serve`
//! executes itself once more with the variable set, keeping its process id,
//! arguments and environment.

/// Re-executes this process with `MALLOC_ARENA_MAX=2` when the variable is
/// unset; returns only if it is set already or the re-execution failed
/// (then glibc's default stays: the limit is a saving, not a need).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub(crate) fn limit_or_go_on() {
    use std::os::unix::process::CommandExt;
    /// The variable glibc reads.
    const VARIABLE: &str = "MALLOC_ARENA_MAX";
    if std::env::var_os(VARIABLE).is_some() {
        return;
    }
    let Ok(executable) = std::env::current_exe() else {
        return;
    };
    let mut args = std::env::args_os();
    let mut command = std::process::Command::new(executable);
    if let Some(name) = args.next() {
        command.arg0(name);
    }
    // `exec` returns only on failure.
    let _failed = command.args(args).env(VARIABLE, "2").exec();
}

/// Other platforms: glibc's variable means nothing there.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub(crate) fn limit_or_go_on() {}
