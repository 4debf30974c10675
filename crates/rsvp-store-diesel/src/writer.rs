//! SQLite's one writer: every unit of work that writes runs on one
//! connection owned by one thread, fed by a queue, so concurrent writers
//! queue in memory instead of sleeping in SQLite's busy handler (whose
//! growing sleeps made second-long tails under load). Reads keep the pool.
//!
//! Units waiting together are committed together (group commit): the
//! thread opens one `BEGIN IMMEDIATE` transaction, runs each unit inside its
//! own savepoint (released on success, rolled back on failure, so each
//! unit's outcome is all or nothing on its own), then commits once; a unit
//! learns its result only after that commit. If the commit fails, every
//! unit of the group fails with it — none is reported written when it is not.

use std::sync::mpsc;

use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel::result::Error as DieselError;

use crate::connection::DbConnection;

/// Most units committed together: bounds a group's latency and the work
/// lost to one failed commit.
const MAX_GROUP: usize = 64;

/// What a unit reports once its group is committed (or failed): handed the
/// commit's error, if any.
pub(crate) type Completion = Box<dyn FnOnce(Option<&DieselError>) + Send>;

/// A unit of work for the writer.
pub(crate) trait Unit: Send {
    /// Runs on the writer's connection inside the unit's savepoint; says
    /// whether it failed (then the savepoint is rolled back) and what to
    /// report once the group's commit is known.
    fn run(self: Box<Self>, conn: &mut DbConnection) -> (bool, Completion);

    /// Reports that the unit did not run: its group failed first.
    fn abandon(self: Box<Self>, error: &DieselError);
}

pub(crate) type Job = Box<dyn Unit>;

/// The queue into the writer thread. The thread ends when the last sender
/// (the last clone of the store) is dropped.
#[derive(Debug, Clone)]
pub(crate) struct Writer {
    queue: mpsc::Sender<Job>,
}

impl Writer {
    /// Starts the writer thread on `conn`.
    pub(crate) fn start(conn: DbConnection) -> std::io::Result<Self> {
        let (queue, jobs) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("rsvp-sqlite-writer".into())
            .spawn(move || run(conn, &jobs))?;
        Ok(Self { queue })
    }

    /// Queues `job`; `false` when the writer has stopped.
    pub(crate) fn submit(&self, job: Job) -> bool {
        self.queue.send(job).is_ok()
    }
}

type Manager = AnsiTransactionManager;

fn run(mut conn: DbConnection, jobs: &mpsc::Receiver<Job>) {
    let DbConnection::Sqlite(_) = &conn else {
        return;
    };
    // Blocks for the first unit, then takes whatever else is waiting.
    while let Ok(first) = jobs.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match jobs.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        commit_group(&mut conn, group);
    }
}

fn commit_group(conn: &mut DbConnection, group: Vec<Job>) {
    let DbConnection::Sqlite(inner) = conn else {
        return;
    };
    if let Err(error) = Manager::begin_transaction_sql(inner, "BEGIN IMMEDIATE") {
        // Nothing ran: each unit fails with the reason (a full disk, say).
        for job in group {
            job.abandon(&error);
        }
        return;
    }
    let mut completions = Vec::with_capacity(group.len());
    let mut broken: Option<DieselError> = None;
    let mut abandoned = Vec::new();
    for job in group {
        if broken.is_some() {
            abandoned.push(job);
            continue;
        }
        if let Err(error) = <DbConnection as diesel::Connection>::TransactionManager::begin_transaction(conn) {
            broken = Some(error);
            abandoned.push(job);
            continue;
        }
        let (failed, completion) = job.run(conn);
        let closed = if failed {
            <DbConnection as diesel::Connection>::TransactionManager::rollback_transaction(conn)
        } else {
            <DbConnection as diesel::Connection>::TransactionManager::commit_transaction(conn)
        };
        if let Err(error) = closed {
            broken = Some(error);
        }
        completions.push(completion);
    }
    let outcome = match broken {
        None => <DbConnection as diesel::Connection>::TransactionManager::commit_transaction(conn).err(),
        Some(error) => {
            // SQLite may have rolled the transaction back by itself (a full
            // disk): leave the connection clean either way.
            let _ = <DbConnection as diesel::Connection>::TransactionManager::rollback_transaction(conn);
            Some(error)
        }
    };
    if outcome.is_some() {
        let DbConnection::Sqlite(inner) = conn else {
            return;
        };
        // A failed COMMIT leaves the manager's depth as it was: reset it so
        // the next group starts from no transaction.
        if Manager::transaction_manager_status_mut(inner)
            .transaction_depth()
            .ok()
            .flatten()
            .is_some()
        {
            let _ = Manager::rollback_transaction(inner);
        }
    }
    for completion in completions {
        completion(outcome.as_ref());
    }
    if let Some(error) = &outcome {
        for job in abandoned {
            job.abandon(error);
        }
    }
}
