//! Recipients' opt-outs: `add_suppression`, `suppressions_for`,
//! `list_suppressions`, `delete_suppression`.

use std::sync::Arc;

use rsvp_app::{Cursor, PageSize, StoreError, SuppressionQuery};
use rsvp_domain::{BusinessId, Suppression, SuppressionId, SuppressionReason};
use time::OffsetDateTime;
use tokio::sync::Barrier;

use crate::Harness;
use crate::fixtures::{Tenant, at, email, invited, new_uuid};

fn suppression(address: &str, business: Option<BusinessId>, now: OffsetDateTime) -> Suppression {
    Suppression {
        id: SuppressionId::from_uuid(new_uuid()),
        email: email(address),
        business_id: business,
        invitation_id: None,
        created_at: now,
        reason: SuppressionReason::OptOut,
    }
}

async fn all(store: &dyn rsvp_app::Store, address: Option<&str>) -> Vec<Suppression> {
    let mut rows = Vec::new();
    let mut after: Option<Cursor> = None;
    loop {
        let page = store
            .opt_outs()
            .list_suppressions(&SuppressionQuery {
                email: address.map(email),
                limit: PageSize::new(2).expect("a page size"),
                after,
            })
            .await
            .expect("list_suppressions");
        rows.extend(page.items);
        match page.next {
            Some(next) => after = Some(next),
            None => return rows,
        }
    }
}

/// A suppression reads back as written; the same opt-out again (the same
/// normalized email, the same scope) returns the stored one and writes
/// nothing; another scope of the same address is another suppression.
pub async fn an_opt_out_is_stored_once_per_address_and_scope_and_read_back_as_written(h: Harness) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let sent = invited(store, &acme, "Bob@Globex.test", at(1)).await;
    let mut first = suppression("Bob@Globex.test", Some(acme.id()), at(10));
    first.invitation_id = Some(sent.id());
    assert_eq!(
        store.opt_outs().add_suppression(&first).await.expect("add_suppression"),
        first
    );

    let again = suppression("BOB@globex.TEST", Some(acme.id()), at(20));
    assert_eq!(
        store.opt_outs().add_suppression(&again).await.expect("add_suppression"),
        first,
        "the stored suppression is returned"
    );
    assert_eq!(all(store, None).await, [first.clone()], "the repeat wrote nothing");

    let everyone = suppression("bob@globex.test", None, at(30));
    assert_eq!(
        store
            .opt_outs()
            .add_suppression(&everyone)
            .await
            .expect("add_suppression"),
        everyone
    );
    let everyone_again = suppression("bob@GLOBEX.test", None, at(40));
    assert_eq!(
        store
            .opt_outs()
            .add_suppression(&everyone_again)
            .await
            .expect("add_suppression"),
        everyone
    );
    assert_eq!(all(store, None).await, [everyone, first]);
}

/// `add_suppression` under a race: 16 concurrent opt-outs of one address and
/// scope store exactly one suppression, and every caller gets it back.
pub async fn concurrent_opt_outs_of_one_address_store_exactly_one_suppression(h: Harness) {
    const RACERS: usize = 16;
    let acme = Tenant::create(h.store.as_ref(), "Acme", "ann@acme.test", at(0)).await;
    let barrier = Arc::new(Barrier::new(RACERS));
    let mut tasks = Vec::new();
    for n in 0..RACERS {
        let spelling = if n % 2 == 0 {
            "carol@globex.test"
        } else {
            "CAROL@globex.test"
        };
        let candidate = suppression(spelling, Some(acme.id()), at(10 + n as i64));
        let store = Arc::clone(&h.store);
        let barrier = Arc::clone(&barrier);
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            store.opt_outs().add_suppression(&candidate).await
        }));
    }
    let mut returned = Vec::new();
    for task in tasks {
        returned.push(task.await.expect("an opt-out task panicked").expect("add_suppression"));
    }
    let stored = all(h.store.as_ref(), None).await;
    assert_eq!(stored.len(), 1, "exactly one suppression for {RACERS} racing opt-outs");
    assert!(
        returned.iter().all(|r| *r == stored[0]),
        "every caller gets the stored one"
    );
}

/// `suppressions_for` returns the address's suppressions of that business and
/// those of everyone, never another business's nor another address's.
pub async fn suppressions_for_a_business_are_its_own_and_everyones_for_those_addresses(h: Harness) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let globex = Tenant::create(store, "Globex", "gil@globex.test", at(0)).await;
    let by_acme = suppression("bob@partner.test", Some(acme.id()), at(1));
    let by_globex = suppression("carol@partner.test", Some(globex.id()), at(2));
    let everyone = suppression("dave@partner.test", None, at(3));
    let elsewhere = suppression("erin@partner.test", None, at(4));
    for s in [&by_acme, &by_globex, &everyone, &elsewhere] {
        store.opt_outs().add_suppression(s).await.expect("add_suppression");
    }
    let asked = [
        email("BOB@partner.test"),
        email("carol@partner.test"),
        email("Dave@Partner.test"),
    ];
    let mut found = store
        .opt_outs()
        .suppressions_for(acme.id(), &asked)
        .await
        .expect("suppressions_for");
    found.sort_by_key(|s| s.created_at);
    assert_eq!(found, [by_acme.clone(), everyone.clone()]);
    let mut found = store
        .opt_outs()
        .suppressions_for(globex.id(), &asked)
        .await
        .expect("suppressions_for");
    found.sort_by_key(|s| s.created_at);
    assert_eq!(found, [by_globex, everyone]);
    assert_eq!(
        store
            .opt_outs()
            .suppressions_for(acme.id(), &[])
            .await
            .expect("suppressions_for"),
        []
    );
}

/// The list is newest first, keyset paged without skips or repeats, and
/// filtered by normalized address when asked.
pub async fn suppressions_are_listed_newest_first_paged_and_filtered_by_address(h: Harness) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let globex = Tenant::create(store, "Globex", "gil@globex.test", at(0)).await;
    let mut written = Vec::new();
    for (n, (address, business)) in [
        ("a@partner.test", Some(acme.id())),
        ("b@partner.test", None),
        ("A@Partner.test", Some(globex.id())),
        ("c@partner.test", Some(acme.id())),
        ("a@partner.test", None),
    ]
    .into_iter()
    .enumerate()
    {
        // Two rows share a time: the id breaks the tie.
        let s = suppression(address, business, at(10 + (n as i64 / 2)));
        written.push(store.opt_outs().add_suppression(&s).await.expect("add_suppression"));
    }
    let mut newest_first = written.clone();
    newest_first.sort_by_key(|s| std::cmp::Reverse((s.created_at, s.id)));
    assert_eq!(all(store, None).await, newest_first);
    let only_a: Vec<Suppression> = newest_first
        .iter()
        .filter(|s| s.email.normalized() == "a@partner.test")
        .cloned()
        .collect();
    assert_eq!(only_a.len(), 3);
    assert_eq!(all(store, Some("A@PARTNER.test")).await, only_a);
}

/// A lifted suppression is gone and no longer blocks; lifting an unknown one
/// is not found and deletes nothing.
pub async fn a_lifted_suppression_no_longer_blocks_and_an_unknown_one_is_not_found(h: Harness) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let kept = suppression("keep@partner.test", None, at(1));
    let lifted = suppression("bob@partner.test", Some(acme.id()), at(2));
    store.opt_outs().add_suppression(&kept).await.expect("add_suppression");
    store
        .opt_outs()
        .add_suppression(&lifted)
        .await
        .expect("add_suppression");

    assert_eq!(
        store
            .opt_outs()
            .delete_suppression(SuppressionId::from_uuid(new_uuid()))
            .await,
        Err(StoreError::NotFound)
    );
    assert_eq!(all(store, None).await.len(), 2, "nothing was deleted");

    store
        .opt_outs()
        .delete_suppression(lifted.id)
        .await
        .expect("delete_suppression");
    assert_eq!(all(store, None).await, [kept]);
    assert_eq!(
        store
            .opt_outs()
            .suppressions_for(acme.id(), &[email("bob@partner.test")])
            .await
            .expect("suppressions_for"),
        []
    );
    assert_eq!(
        store.opt_outs().delete_suppression(lifted.id).await,
        Err(StoreError::NotFound)
    );
}
