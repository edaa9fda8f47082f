//! Applying a batch's stored change rows (edit, delete, reaction, un-reaction) to their
//! targets, in order, inside the batch's transaction, with the search index maintenance an
//! edit or a delete needs. The SQL is the same on both engines (`sql::EDIT`, ...); one macro
//! writes the function for each engine's connection type, as `dm.rs` does.

macro_rules! apply_changes_on {
    ($module:ident, $Conn:ty, $index:ident) => {
        pub(crate) mod $module {
            use crate::StoreError;
            use crate::search::{IndexWork, $index as index};
            use crate::sql;
            use chatroom_core::{ChangeKind, Message, UserId};

            /// Applies `changes` (stored change rows, batch order) to their targets.
            pub(crate) async fn apply_changes(
                conn: &mut $Conn,
                changes: &[&Message],
            ) -> Result<(), StoreError> {
                for row in changes {
                    let Some(change) = row.change else {
                        continue;
                    };
                    let user = row.user_id.as_ref().map(UserId::as_str);
                    match change.kind {
                        ChangeKind::Edit => {
                            sqlx::query(sql::EDIT)
                                .bind(change.target)
                                .bind(row.text.as_str())
                                .bind(row.ts)
                                .execute(&mut *conn)
                                .await?;
                        }
                        ChangeKind::Delete => {
                            sqlx::query(sql::TOMBSTONE)
                                .bind(change.target)
                                .execute(&mut *conn)
                                .await?;
                            sqlx::query(sql::CLEAR_REACTIONS)
                                .bind(change.target)
                                .execute(&mut *conn)
                                .await?;
                        }
                        ChangeKind::React => {
                            sqlx::query(sql::REACT)
                                .bind(change.target)
                                .bind(row.text.as_str())
                                .bind(user)
                                .bind(row.name.as_str())
                                .bind(row.ts)
                                .execute(&mut *conn)
                                .await?;
                        }
                        ChangeKind::Unreact => {
                            sqlx::query(sql::UNREACT)
                                .bind(change.target)
                                .bind(row.text.as_str())
                                .bind(user)
                                .execute(&mut *conn)
                                .await?;
                        }
                    }
                }
                // The index follows the text in the same transaction.
                for work in crate::search::index_work(changes) {
                    match work {
                        IndexWork::Reindex(id, text) => {
                            index::reindex(&mut *conn, id, text).await?
                        }
                        IndexWork::Unindex(id) => index::unindex(&mut *conn, id).await?,
                    }
                }
                Ok(())
            }
        }
    };
}

apply_changes_on!(on_sqlite, sqlx::SqliteConnection, sqlite);
apply_changes_on!(on_postgres, sqlx::PgConnection, postgres);
