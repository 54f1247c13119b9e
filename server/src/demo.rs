//! This module deals with the demo business: seeding an empty database (a demo tenant with
//! its admin and 40 customers, and a second tenant so isolation can be seen), and a generator
//! that records deliveries and payments through the same actions as any client.

use std::time::Duration;

use pulse_protocol::events::{DeliveryUpdate, Id, Level, PaymentAdd, PaymentMethod};

use crate::actions;
use crate::auth::{hash_password, Caller};
use crate::db;
use crate::error::AppError;
use crate::state::AppState;
use pulse_protocol::calendar;

/// The demo admin's email.
pub const DEMO_EMAIL: &str = "admin@pulse.demo";
/// The second tenant's admin's email.
pub const OTHER_EMAIL: &str = "admin@other.demo";
/// Both demo admins' password.
pub const DEMO_PASSWORD: &str = "pulse-demo";
/// The demo tenant's name.
pub const DEMO_TENANT: &str = "Pulse Dairy";

const CUSTOMERS: &[&str] = &[
    "Amina Njeri",
    "Brian Otieno",
    "Carmen Diaz",
    "David Mwangi",
    "Esther Wanjiru",
    "Farid Haddad",
    "Grace Achieng",
    "Hugo Martin",
    "Imani Kariuki",
    "Jonas Berg",
    "Khadija Omar",
    "Liam Walsh",
    "Mei Chen",
    "Nadia Petrova",
    "Omar Farouk",
    "Priya Nair",
    "Quentin Moreau",
    "Rosa Alvarez",
    "Samuel Kiprop",
    "Tara Singh",
    "Uma Rao",
    "Victor Okafor",
    "Wanjiku Kamau",
    "Xavier Dubois",
    "Yara Haddad",
    "Zainab Bello",
    "Aaron Cohen",
    "Beatrice Muthoni",
    "Carlos Silva",
    "Dina Levi",
    "Elias Wekesa",
    "Fatuma Ali",
    "George Njoroge",
    "Hana Sato",
    "Isaac Mutua",
    "Julia Rossi",
    "Kevin Ouma",
    "Lucia Ferreira",
    "Moses Kibet",
    "Nora Lindqvist",
];

/// Seeds the demo tenants when the database has none. Returns whether it seeded.
pub(crate) async fn seed_if_empty(state: &AppState) -> Result<bool, AppError> {
    // Nodes starting together on an empty database seed it once.
    let mut tx = state.db.begin_write(db::lock::SEED).await?;
    if db::tenants::count(&mut tx).await? > 0 {
        return Ok(false);
    }
    let now = state.clock.now_ms();
    let m_cost = state.config.argon2_m_cost_kib;
    let hash = hash_password(DEMO_PASSWORD, m_cost)?;
    let demo = db::tenants::insert(&mut tx, DEMO_TENANT, now).await?;
    db::users::insert(&mut tx, demo, "Demo Admin", DEMO_EMAIL, &hash, "admin", now).await?;
    let staff_hash = hash_password(DEMO_PASSWORD, m_cost)?;
    db::users::insert(&mut tx, demo, "Demo Staff", "staff@pulse.demo", &staff_hash, "staff", now)
        .await?;
    for (i, name) in CUSTOMERS.iter().enumerate() {
        let phone = format!("+254 700 {:03} {:03}", 100 + i, 200 + i * 7);
        let address = format!("{} Market Road", 10 + i);
        // Prices 1.00–1.45 so amounts vary between customers.
        let price = 1.0 + (i % 10) as f64 * 0.05;
        db::customers::insert(&mut tx, demo, name, Some(&phone), Some(&address), price, now)
            .await?;
    }
    let other = db::tenants::insert(&mut tx, "Other Dairy", now).await?;
    db::users::insert(&mut tx, other, "Other Admin", OTHER_EMAIL, &hash, "admin", now).await?;
    for name in ["Olive Green", "Peter Brown", "Ruth White", "Simon Black", "Tess Gray"] {
        db::customers::insert(&mut tx, other, name, None, None, 1.1, now).await?;
    }
    tx.commit().await?;
    Ok(true)
}

/// The demo tenant's id, if it exists.
async fn demo_tenant(state: &AppState) -> Result<Option<Id>, AppError> {
    let mut conn = state.db.acquire().await?;
    Ok(db::users::by_email(&mut conn, DEMO_EMAIL).await?.map(|u| u.user.tenant_id))
}

/// Records a delivery every `1 / rate` seconds and a payment every fourth tick, forever, as
/// the actor "demo".
pub(crate) async fn run_generator(state: AppState, rate: f64) {
    let tenant_id = match demo_tenant(&state).await {
        Ok(Some(t)) => t,
        Ok(None) => {
            tracing::info!("no demo tenant; the demo generator stays off");
            return;
        }
        Err(e) => {
            tracing::warn!(error = %e, "demo generator cannot start");
            return;
        }
    };
    let caller = Caller {
        tenant_id,
        user_id: None,
        name: "demo".into(),
        expires_at: None,
        session_id: None,
        role: crate::auth::Role::Admin,
    };
    let period = Duration::from_secs_f64(1.0 / rate.clamp(0.01, 1000.0));
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut rng = XorShift(state.clock.now_ms() as u64 | 1);
    for n in 0u64.. {
        tick.tick().await;
        // One writer for the cluster: every node runs this loop, the leader acts. A node waits
        // for its turn rather than skipping the tick: the first tick comes before the election
        // has run even on SQLite, and at a low rate a skipped tick is minutes without data.
        state.node.leading().await;
        if let Err(e) = step(&state, &caller, &mut rng, n).await {
            tracing::warn!(error = %e, "demo step failed");
        }
    }
}

async fn step(
    state: &AppState,
    caller: &Caller,
    rng: &mut XorShift,
    n: u64,
) -> Result<(), AppError> {
    let customers = {
        let mut conn = state.db.acquire().await?;
        db::customers::ids_of_tenant(&mut conn, caller.tenant_id).await?
    };
    if customers.is_empty() {
        return Ok(());
    }
    let pick = |r: u64| customers[(r % customers.len() as u64) as usize];
    let today = calendar::day_of(state.clock.now_ms());
    actions::delivery::update(
        state,
        caller,
        DeliveryUpdate {
            id: None,
            customer_id: pick(rng.next()),
            date: today,
            quantity: 0.5 * (1 + rng.next() % 6) as f64,
            price_per_liter: None,
            idempotency_key: None,
        },
    )
    .await?;
    if n % 60 == 59 {
        let (level, message) = NEWS[((n / 60) % NEWS.len() as u64) as usize];
        actions::alert::raise(state, caller, level, message.to_owned()).await?;
    }
    if n % 4 == 3 {
        let method = match rng.next() % 3 {
            0 => PaymentMethod::Cash,
            1 => PaymentMethod::Mobile,
            _ => PaymentMethod::Bank,
        };
        // Mostly small payments, now and then a larger one, still under the amount that notifies
        // every user (the demo stays quiet unless an admin lowers their toast threshold).
        let amount = if rng.next() % 20 == 0 {
            50.0 + (rng.next() % 50) as f64
        } else {
            1.0 + (rng.next() % 5) as f64
        };
        actions::payment::add(
            state,
            caller,
            PaymentAdd {
                customer_id: pick(rng.next()),
                amount,
                method,
                date: None,
                note: None,
                idempotency_key: None,
            },
        )
        .await?;
    }
    Ok(())
}

/// Operations news the demo raises as system alerts, in turn.
const NEWS: &[(Level, &str)] = &[
    (Level::Info, "Morning route finished: all vans are back"),
    (Level::Warning, "Van 2 is running 20 minutes late"),
    (Level::Info, "Cold room temperature back to 3 °C"),
    (Level::Critical, "Cold room temperature above 8 °C"),
];

/// Marsaglia's xorshift64: enough to vary demo data, no dependency.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}
