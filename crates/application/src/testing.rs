//! Small in-memory fakes of the ports, for use-case tests.

use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::{
    Email, Page, PageRequest, Password, Product, ProductChanges, ProductId, ProductRepository,
    RepositoryError, Role, User, UserId, UserRepository, Username,
};

use crate::Actor;
use crate::ports::{
    Clock, IdentityAccount, IdentityError, IdentityProvider, NewAccount, SignedIn, TokenPair,
    UserReadModel,
};

#[derive(Default)]
pub struct FixedClock;

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).unwrap()
    }
}

pub fn actor(roles: &[Role]) -> Actor {
    Actor {
        user_id: UserId::new(),
        roles: roles.to_vec(),
    }
}

pub fn sample_user(name: &str) -> User {
    let now = FixedClock.now();
    User {
        id: UserId::new(),
        email: Email::parse(&format!("{name}@example.com")).unwrap(),
        username: Username::parse(name).unwrap(),
        first_name: None,
        last_name: None,
        roles: vec![Role::User],
        created_at: now,
        updated_at: now,
    }
}

#[derive(Default)]
pub struct MemoryProducts {
    pub items: Mutex<Vec<Product>>,
}

#[async_trait]
impl ProductRepository for MemoryProducts {
    async fn insert(&self, product: &Product) -> Result<(), RepositoryError> {
        let mut items = self.items.lock().unwrap();
        if items.iter().any(|p| p.sku == product.sku) {
            return Err(RepositoryError::Conflict("sku"));
        }
        items.push(product.clone());
        Ok(())
    }

    async fn get_many(&self, ids: &[ProductId]) -> Result<Vec<Product>, RepositoryError> {
        Ok(self
            .items
            .lock()
            .unwrap()
            .iter()
            .filter(|p| ids.contains(&p.id))
            .cloned()
            .collect())
    }

    async fn get(&self, id: ProductId) -> Result<Option<Product>, RepositoryError> {
        Ok(self
            .items
            .lock()
            .unwrap()
            .iter()
            .find(|p| p.id == id)
            .cloned())
    }

    async fn update(
        &self,
        id: ProductId,
        changes: &ProductChanges,
        now: DateTime<Utc>,
    ) -> Result<Option<Product>, RepositoryError> {
        let mut items = self.items.lock().unwrap();
        Ok(items.iter_mut().find(|p| p.id == id).map(|p| {
            p.apply(changes.clone(), now);
            p.clone()
        }))
    }

    async fn delete(&self, id: ProductId, _: DateTime<Utc>) -> Result<bool, RepositoryError> {
        let mut items = self.items.lock().unwrap();
        let before = items.len();
        items.retain(|p| p.id != id);
        Ok(items.len() != before)
    }
}

#[derive(Default)]
pub struct MemoryUsers {
    pub items: Mutex<Vec<User>>,
    pub fail_inserts: bool,
}

#[async_trait]
impl UserRepository for MemoryUsers {
    async fn insert(&self, user: &User) -> Result<(), RepositoryError> {
        if self.fail_inserts {
            return Err(RepositoryError::Unavailable("down".into()));
        }
        self.items.lock().unwrap().push(user.clone());
        Ok(())
    }

    async fn upsert_identity(&self, user: &User) -> Result<User, RepositoryError> {
        let mut items = self.items.lock().unwrap();
        match items.iter_mut().find(|u| u.id == user.id) {
            Some(u) => {
                u.email = user.email.clone();
                u.roles = user.roles.clone();
                Ok(u.clone())
            }
            None => {
                items.push(user.clone());
                Ok(user.clone())
            }
        }
    }

    async fn get(&self, id: UserId) -> Result<Option<User>, RepositoryError> {
        Ok(self
            .items
            .lock()
            .unwrap()
            .iter()
            .find(|u| u.id == id)
            .cloned())
    }

    async fn update_profile(&self, user: &User) -> Result<bool, RepositoryError> {
        let mut items = self.items.lock().unwrap();
        match items.iter_mut().find(|u| u.id == user.id) {
            Some(u) => {
                *u = user.clone();
                Ok(true)
            }
            None => Ok(false),
        }
    }
}

#[async_trait]
impl UserReadModel for MemoryUsers {
    async fn list(&self, page: PageRequest) -> Result<Page<User>, RepositoryError> {
        let items = self.items.lock().unwrap().clone();
        Ok(Page {
            total: items.len() as u64,
            items,
            request: page,
        })
    }
}

#[derive(Default)]
pub struct MemoryIdentity {
    pub accounts: Mutex<Vec<IdentityAccount>>,
}

#[async_trait]
impl IdentityProvider for MemoryIdentity {
    async fn register(&self, account: &NewAccount) -> Result<IdentityAccount, IdentityError> {
        let a = IdentityAccount {
            id: UserId::new(),
            email: account.email.clone(),
            username: account.username.clone(),
            first_name: account.first_name.clone(),
            last_name: account.last_name.clone(),
            roles: vec![Role::User],
        };
        self.accounts.lock().unwrap().push(a.clone());
        Ok(a)
    }

    async fn delete(&self, id: UserId) -> Result<(), IdentityError> {
        self.accounts.lock().unwrap().retain(|a| a.id != id);
        Ok(())
    }

    async fn login(&self, _: &str, _: &Password) -> Result<SignedIn, IdentityError> {
        Err(IdentityError::InvalidCredentials)
    }

    async fn refresh(&self, _: &str) -> Result<TokenPair, IdentityError> {
        Err(IdentityError::InvalidToken)
    }

    async fn logout(&self, _: &str) -> Result<(), IdentityError> {
        Ok(())
    }

    async fn ensure_admin(
        &self,
        _: &Email,
        _: &Username,
        _: &Password,
    ) -> Result<IdentityAccount, IdentityError> {
        Err(IdentityError::InvalidCredentials)
    }

    async fn jwks(&self) -> Result<String, IdentityError> {
        Ok(r#"{"keys":[]}"#.into())
    }

    async fn check(&self) -> Result<(), IdentityError> {
        Ok(())
    }
}

#[derive(Default)]
pub struct MemoryOrders {
    pub orders: Mutex<Vec<domain::Order>>,
}

#[async_trait]
impl domain::OrderRepository for MemoryOrders {
    async fn place(
        &self,
        order: &domain::Order,
        _: Option<&domain::IdempotencyRecord>,
    ) -> Result<(), domain::PlaceOrderError> {
        self.orders.lock().unwrap().push(order.clone());
        Ok(())
    }

    async fn get(&self, id: domain::OrderId) -> Result<Option<domain::Order>, RepositoryError> {
        Ok(self
            .orders
            .lock()
            .unwrap()
            .iter()
            .find(|o| o.id == id)
            .cloned())
    }

    async fn change_status(
        &self,
        id: domain::OrderId,
        from: domain::OrderStatus,
        to: domain::OrderStatus,
        now: DateTime<Utc>,
    ) -> Result<bool, RepositoryError> {
        let mut orders = self.orders.lock().unwrap();
        match orders.iter_mut().find(|o| o.id == id && o.status == from) {
            Some(o) => {
                o.status = to;
                o.updated_at = now;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn find_key(
        &self,
        _: UserId,
        _: &str,
        _: DateTime<Utc>,
    ) -> Result<Option<domain::IdempotencyRecord>, RepositoryError> {
        Ok(None)
    }
}
