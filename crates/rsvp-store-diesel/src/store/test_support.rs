//! What the store's own tests share: running raw work on every connection.

#[allow(clippy::wildcard_imports)]
use super::*;
use rsvp_app::IdGenerator;
use rsvp_domain::ApiKeyId;
use uuid::Uuid;

use crate::testing::TestDatabase;

struct RawUnit {
    work: Box<dyn FnOnce(&mut DbConnection) + Send>,
    done: tokio::sync::oneshot::Sender<()>,
}

impl crate::writer::Unit for RawUnit {
    fn run(self: Box<Self>, conn: &mut DbConnection) -> (bool, crate::writer::Completion) {
        let this = *self;
        (this.work)(conn);
        let done = this.done;
        (
            false,
            Box::new(move |_| {
                let _ = done.send(());
            }),
        )
    }

    fn abandon(self: Box<Self>, _: &DieselError) {}
}

impl DieselStore {
    /// Runs `work` on every connection the store holds: the pool's (tests
    /// use a pool of one) and, on SQLite, the writer's.
    pub(super) async fn on_every_connection<W>(&self, work: W)
    where
        W: Fn(&mut DbConnection) + Clone + Send + 'static,
    {
        let pool = self.pool.clone();
        let on_pool = work.clone();
        tokio::task::spawn_blocking(move || on_pool(&mut pool.get().unwrap()))
            .await
            .unwrap();
        if let Some(writer) = &self.writer {
            let (done, finished) = tokio::sync::oneshot::channel();
            let unit = RawUnit {
                work: Box::new(move |conn| work(conn)),
                done,
            };
            assert!(writer.submit(Box::new(unit)));
            finished.await.unwrap();
        }
    }
}

/// A migrated store on `database` (either backend) with a pool of `max_connections`.
pub(super) async fn migrated_store(database: &TestDatabase, max_connections: u32) -> DieselStore {
    let mut options = StoreOptions::new(database.url());
    options.max_connections = max_connections;
    options.min_idle = Some(0);
    let store = DieselStore::connect_with(options).await.unwrap();
    store.run_migrations().await.unwrap();
    store
}

pub(super) fn id() -> Uuid {
    rsvp_system::UuidV7Ids.new_id()
}

pub(super) fn test_key(user_id: UserId, hash: SecretHash, now: OffsetDateTime) -> ApiKeyRecord {
    ApiKeyRecord {
        key: rsvp_domain::ApiKey {
            id: ApiKeyId::from_uuid(id()),
            user_id,
            name: rsvp_domain::ApiKeyName::parse("default").unwrap(),
            prefix: "rsvp_".to_owned(),
            created_at: now,
            expires_at: None,
            last_used_at: None,
        },
        hash,
    }
}
