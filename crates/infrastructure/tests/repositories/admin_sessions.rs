//! `SqlAdminSessions`: the dashboard's sessions by the hash of their id, read back as written
//! until they expire, deleted once, and swept once expired.

use application::ports::{AdminSession, AdminSessions};
use domain::Role;
use domain::UserRepository;
use infrastructure::db::SqlAdminSessions;

use crate::support::*;

async fn a_session_reads_back_until_it_expires_and_is_deleted_once(t: TestDb) {
    let ann = user("ann", &[Role::Admin]);
    t.users.insert(&ann).await.unwrap();
    let sessions = SqlAdminSessions::new(t.db.clone());
    let session = AdminSession {
        user_id: ann.id,
        csrf_token: "form-token".into(),
        refresh_token: Some("refresh".into()),
        expires_at: at(100),
        created_at: at(10),
    };
    sessions.insert("hash-a", &session).await.unwrap();
    let bare = AdminSession {
        refresh_token: None,
        ..session.clone()
    };
    sessions.insert("hash-b", &bare).await.unwrap();

    assert_eq!(
        sessions.find("hash-a", at(99)).await.unwrap(),
        Some(session.clone())
    );
    assert_eq!(sessions.find("hash-b", at(50)).await.unwrap(), Some(bare));
    assert_eq!(sessions.find("hash-a", at(100)).await.unwrap(), None);
    assert_eq!(sessions.find("nothing", at(0)).await.unwrap(), None);
    assert!(sessions.insert("hash-a", &session).await.is_err());

    assert_eq!(sessions.delete("hash-a").await.unwrap(), Some(session));
    assert_eq!(sessions.delete("hash-a").await.unwrap(), None);
    assert_eq!(sessions.find("hash-a", at(0)).await.unwrap(), None);
    assert!(sessions.find("hash-b", at(0)).await.unwrap().is_some());

    // The sweep removes what expired by then, and nothing else.
    let later = AdminSession {
        expires_at: at(500),
        ..session_for(&ann)
    };
    sessions.insert("hash-c", &later).await.unwrap();
    assert_eq!(sessions.delete_expired(at(99)).await.unwrap(), 0);
    assert_eq!(sessions.delete_expired(at(100)).await.unwrap(), 1);
    assert_eq!(sessions.find("hash-c", at(100)).await.unwrap(), Some(later));
    assert_eq!(sessions.delete("hash-b").await.unwrap(), None);
}

fn session_for(user: &domain::User) -> AdminSession {
    AdminSession {
        user_id: user.id,
        csrf_token: "another".into(),
        refresh_token: None,
        expires_at: at(1),
        created_at: at(1),
    }
}

on_both_backends!(a_session_reads_back_until_it_expires_and_is_deleted_once,);
