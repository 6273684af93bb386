//! Access modes: who may read and write, and what the errors say.

use bream_tables::{Access, MissingRights, Operation, Table, TableError, TableOptions};

use super::support::{spawn_idle, stop};

#[tokio::test]
async fn public_tables_take_writes_from_any_handle() {
    let owner = spawn_idle().await;
    let table: Table<u64, u64> =
        Table::new("public", &owner, TableOptions::set().access(Access::Public)).unwrap();
    let other = table.without_owner_rights();
    other.insert(1, 1).unwrap();
    other.update_counter(&1, 1, None).unwrap();
    assert_eq!(table.get(&1).unwrap(), Some(2));
    other.delete(&1).unwrap();
    other.clear().unwrap();
    stop(&owner.get_cell()).await;
}

#[tokio::test]
async fn protected_tables_take_writes_from_the_owner_only() {
    let owner = spawn_idle().await;
    let table: Table<u64, u64> = Table::new("protected", &owner, TableOptions::set()).unwrap();
    assert_eq!(table.access(), Access::Protected, "the default");
    table.insert(1, 1).unwrap();
    let other = table.without_owner_rights();
    assert_eq!(other.get(&1).unwrap(), Some(1));
    assert_eq!(other.to_vec().unwrap(), vec![(1, 1)]);

    let error = other.insert(2, 2).unwrap_err();
    assert_eq!(
        error,
        TableError::AccessDenied {
            table: "protected".into(),
            access: Access::Protected,
            operation: Operation::Insert,
            rights: MissingRights::NotOwner,
        }
    );
    assert_eq!(
        error.to_string(),
        "table \"protected\" is protected: insert needs the owner's handle, \
         and this handle has no owner rights"
    );
    for result in [
        other.delete(&1),
        other.delete_object(&1, &1),
        other.clear(),
        other.delete_table(),
        other.update_counter(&1, 1, None).map(drop),
        other.take(&1).map(drop),
        other.select_delete(.., |_, _| true).map(drop),
        other.insert_new(3, 3).map(drop),
    ] {
        assert!(
            matches!(result, Err(TableError::AccessDenied { .. })),
            "{result:?}"
        );
    }
    assert_eq!(table.get(&1).unwrap(), Some(1), "nothing changed");
    stop(&owner.get_cell()).await;
}

#[tokio::test]
async fn private_tables_refuse_reads_too_but_not_info() {
    let owner = spawn_idle().await;
    let table: Table<u64, u64> = Table::new(
        "private",
        &owner,
        TableOptions::set().access(Access::Private),
    )
    .unwrap();
    table.insert(1, 1).unwrap();
    assert_eq!(table.get(&1).unwrap(), Some(1));
    let other = table.without_owner_rights();
    let error = other.get(&1).unwrap_err();
    assert_eq!(
        error,
        TableError::AccessDenied {
            table: "private".into(),
            access: Access::Private,
            operation: Operation::Lookup,
            rights: MissingRights::NotOwner,
        }
    );
    assert!(error.to_string().contains("private: lookup"), "{error}");
    assert!(other.member(&1).is_err());
    assert!(other.fold(0, |count, _, _| count + 1).is_err());
    assert_eq!(other.info().unwrap().size, 1);
    stop(&owner.get_cell()).await;
}

#[tokio::test]
async fn callbacks_may_not_reenter_their_table() {
    let owner = spawn_idle().await;
    let table: Table<u64, u64> = Table::new("reentry", &owner, TableOptions::set()).unwrap();
    let other: Table<u64, u64> = Table::new("other", &owner, TableOptions::set()).unwrap();
    table.insert(1, 1).unwrap();
    let mut inner = None;
    table
        .fold((), |(), _, _| {
            inner = Some(table.insert(2, 2));
            other.insert(1, 1).unwrap(); // another table is fine
        })
        .unwrap();
    assert_eq!(
        inner,
        Some(Err(TableError::CalledFromCallback {
            table: "reentry".into(),
            operation: Operation::Insert,
        }))
    );
    let nested = table.update_element(&1, |_| table.get(&1)).unwrap();
    assert!(matches!(
        nested,
        Some(Err(TableError::CalledFromCallback { .. }))
    ));
    // After the callback, the table works again.
    table.insert(2, 2).unwrap();
    assert_eq!(other.get(&1).unwrap(), Some(1));
    stop(&owner.get_cell()).await;
}

#[tokio::test]
async fn kind_errors_name_what_is_needed() {
    let owner = spawn_idle().await;
    let bag: Table<u64, u64> = Table::new("a_bag", &owner, TableOptions::bag()).unwrap();
    let error = bag.update_counter(&1, 1, Some(0)).unwrap_err();
    assert_eq!(
        error.to_string(),
        "table \"a_bag\" is a bag: update_counter needs a set or an ordered_set"
    );
    let error = bag.first().unwrap_err();
    assert_eq!(
        error.to_string(),
        "table \"a_bag\" is a bag: first needs an ordered_set"
    );
    stop(&owner.get_cell()).await;
}

#[tokio::test]
async fn stripes_option_is_bounded() {
    let owner = spawn_idle().await;
    for stripes in [0, bream_tables::STRIPES_MAX + 1] {
        let error = Table::<u64, u64>::new("stripes", &owner, TableOptions::set().stripes(stripes))
            .unwrap_err();
        assert!(
            matches!(error, TableError::InvalidOption { option: "stripes", value, .. } if value == stripes),
            "{error:?}"
        );
    }
    for stripes in [1, 3, bream_tables::STRIPES_MAX] {
        let table = Table::<u64, u64>::new("stripes", &owner, TableOptions::set().stripes(stripes))
            .unwrap();
        assert_eq!(table.info().unwrap().stripes, stripes.next_power_of_two());
    }
    stop(&owner.get_cell()).await;
}
