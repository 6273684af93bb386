//! Owner death, heirs, give_away, and named tables, with real actors.

use bream_tables::{
    DeleteReason, MissingRights, Recipient, Table, TableError, TableOptions, TransferReason,
};
use ractor::Actor;

use super::support::{
    eventually, next_transfer, spawn_heir, spawn_idle, stop, Crash, Crasher, Idle,
};

fn is_deleted<T: std::fmt::Debug>(result: Result<T, TableError>) -> bool {
    matches!(result, Err(TableError::Deleted { .. }))
}

#[tokio::test]
async fn owner_stop_deletes_the_table_and_frees_its_name() {
    let owner = spawn_idle().await;
    let table: Table<u64, u64> = Table::new(
        "owner_stop_deletes",
        &owner,
        TableOptions::set().named_table(),
    )
    .unwrap();
    table.insert(1, 10).unwrap();
    let reader = table.without_owner_rights();

    stop(&owner.get_cell()).await;
    eventually("the table is deleted", || is_deleted(reader.get(&1))).await;

    match reader.get(&1) {
        Err(TableError::Deleted {
            table,
            reason: DeleteReason::OwnerStopped { owner: stopped },
        }) => {
            assert_eq!(&*table, "owner_stop_deletes");
            assert_eq!(stopped, owner.get_id());
        }
        other => panic!("expected Deleted by owner stop, got {other:?}"),
    }
    assert!(is_deleted(table.insert(2, 20)));
    assert!(matches!(
        Table::<u64, u64>::whereis("owner_stop_deletes"),
        Err(TableError::NoTable { .. })
    ));
    // The name is free again.
    let next_owner = spawn_idle().await;
    Table::<u64, u64>::new(
        "owner_stop_deletes",
        &next_owner,
        TableOptions::set().named_table(),
    )
    .unwrap();
    stop(&next_owner.get_cell()).await;
}

#[tokio::test]
async fn a_killed_owner_also_deletes_the_table() {
    let owner = spawn_idle().await;
    let table: Table<u64, u64> = Table::new("killed_owner", &owner, TableOptions::set()).unwrap();
    owner.kill();
    eventually("the table is deleted", || is_deleted(table.size())).await;
}

#[tokio::test]
async fn a_crashed_owner_passes_the_table_to_its_heir() {
    let (owner, _) = Actor::spawn(None, Crasher, ()).await.unwrap();
    let (heir, mut transfers) = spawn_heir().await;
    let table: Table<u64, u64> = Table::new(
        "crashed_owner",
        &owner,
        TableOptions::set().heir(Recipient::from_ref(&heir)),
    )
    .unwrap();
    table.insert(1, 1).unwrap();
    owner.cast(Crash).unwrap();
    let transfer = next_transfer(&mut transfers).await;
    assert_eq!(transfer.from, owner.get_id());
    assert_eq!(transfer.table.get(&1).unwrap(), Some(1));
    stop(&heir.get_cell()).await;
}

#[tokio::test]
async fn heir_takes_the_table_when_the_owner_stops() {
    let owner = spawn_idle().await;
    let (heir, mut transfers) = spawn_heir().await;
    let table: Table<u64, u64> = Table::new(
        "heir_takes",
        &owner,
        TableOptions::set().heir(Recipient::from_ref(&heir)),
    )
    .unwrap();
    table.insert(7, 70).unwrap();
    assert_eq!(table.info().unwrap().heir, Some(heir.get_id()));

    stop(&owner.get_cell()).await;
    let transfer = next_transfer(&mut transfers).await;

    assert_eq!(transfer.reason, TransferReason::OwnerStopped);
    assert_eq!(transfer.from, owner.get_id());
    assert!(transfer.table.same_table(&table));
    assert!(transfer.table.has_owner_rights());
    assert_eq!(transfer.table.get(&7).unwrap(), Some(70));
    let info = transfer.table.info().unwrap();
    assert_eq!(info.owner, heir.get_id());
    assert_eq!(info.heir, None, "an heir is used once");
    // The old owner's handle lost its rights.
    assert!(!table.has_owner_rights());
    assert!(matches!(
        table.insert(8, 80),
        Err(TableError::AccessDenied {
            rights: MissingRights::OwnershipPassed,
            ..
        })
    ));
    transfer.table.insert(8, 80).unwrap();

    // The heir is now the owner: its stop deletes the table.
    stop(&heir.get_cell()).await;
    eventually("the table is deleted", || is_deleted(table.get(&7))).await;
}

#[tokio::test]
async fn heir_data_travels_in_the_message() {
    let owner = spawn_idle().await;
    let (heir, mut transfers) = spawn_heir().await;
    // The heir's message is built by a function that captures any data
    // (ETS HeirData); here it inserts a marker before forwarding.
    let table: Table<u64, u64> = Table::new(
        "heir_data",
        &owner,
        TableOptions::set().heir(Recipient::new(&heir, |transfer| {
            transfer.table.insert(0, 42).unwrap();
            super::support::HeirMsg::Transfer(transfer)
        })),
    )
    .unwrap();
    stop(&owner.get_cell()).await;
    let transfer = next_transfer(&mut transfers).await;
    assert_eq!(transfer.table.get(&0).unwrap(), Some(42));
    assert_eq!(table.get(&0).unwrap(), Some(42));
    stop(&heir.get_cell()).await;
}

#[tokio::test]
async fn a_dead_heir_means_deletion() {
    let owner = spawn_idle().await;
    let (heir, _transfers) = spawn_heir().await;
    let table: Table<u64, u64> = Table::new(
        "dead_heir",
        &owner,
        TableOptions::set().heir(Recipient::from_ref(&heir)),
    )
    .unwrap();
    stop(&heir.get_cell()).await;
    stop(&owner.get_cell()).await;
    eventually("the table is deleted", || is_deleted(table.get(&1))).await;
}

#[tokio::test]
async fn give_away_passes_ownership_and_tells_the_recipient() {
    let owner = spawn_idle().await;
    let (recipient, mut transfers) = spawn_heir().await;
    let table: Table<u64, u64> = Table::new("give_away", &owner, TableOptions::set()).unwrap();
    let owner_clone = table.clone();

    table.give_away(Recipient::from_ref(&recipient)).unwrap();
    let transfer = next_transfer(&mut transfers).await;
    assert_eq!(transfer.reason, TransferReason::GiveAway);
    assert_eq!(transfer.from, owner.get_id());
    assert!(!table.has_owner_rights());
    assert!(!owner_clone.has_owner_rights(), "clones lose rights too");
    assert!(matches!(
        table.give_away(Recipient::from_ref(&recipient)),
        Err(TableError::NotOwner { .. })
    ));

    // The old owner stopping no longer matters.
    stop(&owner.get_cell()).await;
    transfer.table.insert(1, 1).unwrap();
    assert_eq!(table.get(&1).unwrap(), Some(1));

    // Giving it to its current owner is refused; to a dead actor too.
    assert!(matches!(
        transfer.table.give_away(Recipient::from_ref(&recipient)),
        Err(TableError::RecipientIsOwner { .. })
    ));
    let (dead, _dead_transfers) = spawn_heir().await;
    stop(&dead.get_cell()).await;
    assert!(matches!(
        transfer.table.give_away(Recipient::from_ref(&dead)),
        Err(TableError::RecipientNotAlive { .. })
    ));

    stop(&recipient.get_cell()).await;
    eventually("the table is deleted", || is_deleted(table.get(&1))).await;
}

#[tokio::test]
async fn set_heir_needs_owner_rights_and_a_live_heir() {
    let owner = spawn_idle().await;
    let (heir, mut transfers) = spawn_heir().await;
    let table: Table<u64, u64> = Table::new("set_heir", &owner, TableOptions::set()).unwrap();
    assert!(matches!(
        table
            .without_owner_rights()
            .set_heir(Some(Recipient::from_ref(&heir))),
        Err(TableError::NotOwner {
            rights: MissingRights::NotOwner,
            ..
        })
    ));
    table.set_heir(Some(Recipient::from_ref(&heir))).unwrap();
    stop(&owner.get_cell()).await;
    let transfer = next_transfer(&mut transfers).await;
    assert!(transfer.table.has_owner_rights());
    stop(&heir.get_cell()).await;
}

#[tokio::test]
async fn creation_refuses_a_dead_owner_and_a_taken_name() {
    let owner = spawn_idle().await;
    let first: Table<u64, u64> =
        Table::new("taken", &owner, TableOptions::set().named_table()).unwrap();
    let error =
        Table::<u64, u64>::new("taken", &owner, TableOptions::set().named_table()).unwrap_err();
    assert_eq!(
        error,
        TableError::NameTaken {
            name: "taken".into()
        }
    );
    // Unnamed tables may share the name.
    Table::<u64, u64>::new("taken", &owner, TableOptions::set()).unwrap();

    first.delete_table().unwrap();
    Table::<u64, u64>::new("taken", &owner, TableOptions::set().named_table()).unwrap();

    let (dead, _) = Actor::spawn(None, Idle, ()).await.unwrap();
    stop(&dead.get_cell()).await;
    assert!(matches!(
        Table::<u64, u64>::new("dead_owner", &dead, TableOptions::set()),
        Err(TableError::OwnerNotAlive { .. })
    ));
    stop(&owner.get_cell()).await;
}

#[tokio::test]
async fn whereis_checks_types() {
    let owner = spawn_idle().await;
    let _table: Table<u64, String> =
        Table::new("typed", &owner, TableOptions::set().named_table()).unwrap();
    let error = Table::<u64, u64>::whereis("typed").unwrap_err();
    assert!(
        matches!(error, TableError::TypeMismatch { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("typed"), "{error}");
    let found = Table::<u64, String>::whereis("typed").unwrap();
    assert!(!found.has_owner_rights());
    assert!(bream_tables::named_tables()
        .iter()
        .any(|name| &**name == "typed"));
    stop(&owner.get_cell()).await;
}

#[tokio::test]
async fn delete_table_is_final_for_every_handle() {
    let owner = spawn_idle().await;
    let table: Table<u64, u64> = Table::new("deleted", &owner, TableOptions::set()).unwrap();
    let reader = table.without_owner_rights();
    table.insert(1, 1).unwrap();
    table.delete_table().unwrap();
    let error = reader.get(&1).unwrap_err();
    assert_eq!(
        error,
        TableError::Deleted {
            table: "deleted".into(),
            reason: DeleteReason::Deleted
        }
    );
    assert_eq!(
        error.to_string(),
        "table \"deleted\" no longer exists: delete_table was called"
    );
    assert!(is_deleted(table.delete_table()));
    stop(&owner.get_cell()).await;
}

#[tokio::test]
#[should_panic(expected = "the local copy refused an operation")]
async fn a_replicated_store_whose_table_refuses_a_write_panics_instead_of_losing_it() {
    use bream_tables::replicated::protocol::Op;
    use bream_tables::replicated::store::Store;
    use bream_tables::replicated::store::TableStore;

    let owner = spawn_idle().await;
    let table: Table<u64, u64> = Table::new("store_refused", &owner, TableOptions::set()).unwrap();
    // A handle without owner rights: every write is refused, as after the table was deleted.
    let mut store = TableStore::new(table.without_owner_rights());
    store.apply(&Op::Insert(vec![(1, 10)]));
}
