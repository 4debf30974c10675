//! Retention of the email outbox: finished jobs are deleted after a while.

use time::Duration;

use crate::{App, AppError};

impl App {
    /// Deletes up to `batch` email jobs that finished (sent or failed) more
    /// than `retention` ago, oldest first; returns how many. Queued jobs are
    /// never deleted; the invitations keep their `email_delivery`. Call it
    /// again while it returns `batch`.
    ///
    /// # Errors
    /// [`AppError::Unavailable`] when the store fails.
    pub async fn prune_finished_emails(&self, retention: Duration, batch: usize) -> Result<u64, AppError> {
        let ports = self.ports();
        let cutoff = ports.clock.now() - retention;
        Ok(ports.store.outbox().prune_email_jobs(cutoff, batch).await?)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use time::OffsetDateTime;

    use crate::ports::{MockClock, MockIdGenerator, MockSecretGenerator, MockStore};
    use crate::{App, Ports, Settings};

    #[tokio::test]
    async fn finished_emails_are_pruned_from_the_retention_cutoff_one_batch_per_call() {
        let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let mut store = MockStore::new();
        store
            .outbox
            .expect_prune_email_jobs()
            .withf(move |before, limit| *before == now - time::Duration::days(30) && *limit == 500)
            .times(1)
            .returning(|_, _| Ok(500));
        let mut clock = MockClock::new();
        clock.expect_now().return_const(now);
        let app = App::new(
            Ports {
                store: Arc::new(store),
                clock: Arc::new(clock),
                ids: Arc::new(MockIdGenerator::new()),
                secrets: Arc::new(MockSecretGenerator::new()),
            },
            Settings::default(),
        );
        assert_eq!(app.prune_finished_emails(time::Duration::days(30), 500).await, Ok(500));
    }
}
