//! This module deals with reading the wire types out of a `serde_json::Value`, and writing
//! them into one, without serde's derives. The serde derives define the wire, and the server
//! decodes and encodes with them; a browser bundle that goes through [`FromValue`] and
//! [`ToValue`] carries a few lines per type instead of a visitor and a serializer per type,
//! and serde_json's `Value` deserializer and serializer beside them. Each type's impls read
//! and refuse what its derive does, the forms Pulse never writes included (a struct as the
//! array of its fields in order, a unit variant as `{"CASH": null}`), and write what it
//! writes; the tests and the `payloads` fuzz target hold every one to that.
//!
//! A struct's impls are one line under its declaration, `json_value!(Type { field, … })`: its
//! struct literal makes a field left out (or a new one) a compile error there.

use std::borrow::Cow;

use serde_json::{Map, Value};

/// A type read from a JSON value as its serde derive reads it (see the module's doc).
pub trait FromValue: Sized {
    /// `v` as `Self`, or `None` where the serde derive would refuse it.
    fn from_value(v: &Value) -> Option<Self>;

    /// What a struct's member reads as when it is absent: nothing (it is required), but for an
    /// `Option`, which is then `None`, as serde has it.
    fn absent() -> Option<Self> {
        None
    }
}

/// A type written as the JSON value its serde derive writes (see the module's doc).
pub trait ToValue {
    /// `self` as serde_json's `to_value` writes it.
    fn to_value(&self) -> Value;
}

/// Member `key` of `o` as `T`; absent, as [`FromValue::absent`] says.
pub fn member<T: FromValue>(o: &Map<String, Value>, key: &str) -> Option<T> {
    match o.get(key) {
        Some(v) => T::from_value(v),
        None => T::absent(),
    }
}

/// Member `key` of `o` as `T`, or `default()` when absent (`#[serde(default)]`).
pub fn member_or<T: FromValue>(o: &Map<String, Value>, key: &str, default: fn() -> T) -> Option<T> {
    match o.get(key) {
        Some(v) => T::from_value(v),
        None => Some(default()),
    }
}

/// Implements [`FromValue`] and [`ToValue`] for a struct whose members are named as its
/// fields: `json_value!(Payment { id, amount, note = Option::default })`: the fields in
/// declaration order (serde also reads a struct from the array of its fields), each with
/// `#[serde(default)]` as `field = Default::default` (or the function serde names; an `Option`
/// too, for the array form), a member with `skip_serializing_if = "Option::is_none"` marked
/// `#[skip_none]`, a generic struct as `json_value!(Page<T> { items, total })`. Not for a
/// struct with renamed members: those are written by hand.
#[macro_export]
macro_rules! json_value {
    ($ty:ident $(<$g:ident>)? {
        $($(#[$skip:ident])? $field:ident $(= $default:expr)?),* $(,)?
    }) => {
        impl$(<$g: $crate::value::FromValue>)? $crate::value::FromValue for $ty$(<$g>)? {
            fn from_value(v: &$crate::__serde_json::Value) -> Option<Self> {
                // Serde also reads a struct from the array of its fields, in declaration order
                // (the order listed here, which the tests check against serde's).
                const FIELDS: &[(&str, bool)] =
                    &[$((stringify!($field), $crate::json_value!(@has_default $($default)?))),*];
                let o = $crate::value::members(v, FIELDS)?;
                let o = &*o;
                Some($ty { $($field: $crate::json_value!(@member o, $field $(, $default)?),)* })
            }
        }
        impl$(<$g: $crate::value::ToValue>)? $crate::value::ToValue for $ty$(<$g>)? {
            fn to_value(&self) -> $crate::__serde_json::Value {
                // Destructured: a field left out of the list is a compile error here too.
                let $ty { $($field),* } = self;
                let mut o = $crate::__serde_json::Map::new();
                $($crate::json_value!(@insert o, $field $(, $skip)?);)*
                $crate::__serde_json::Value::Object(o)
            }
        }
    };
    (@insert $o:ident, $field:ident) => {
        $o.insert(stringify!($field).to_owned(), $crate::value::ToValue::to_value($field))
    };
    (@insert $o:ident, $field:ident, skip_none) => {
        if let Some(v) = $field {
            $o.insert(stringify!($field).to_owned(), $crate::value::ToValue::to_value(v));
        }
    };
    (@has_default) => {
        false
    };
    (@has_default $default:expr) => {
        true
    };
    (@member $o:ident, $field:ident) => {
        $crate::value::member($o, stringify!($field))?
    };
    (@member $o:ident, $field:ident, $default:expr) => {
        $crate::value::member_or($o, stringify!($field), $default)?
    };
}

/// The members of a struct written as `v`: an object, or the array of its fields (read as the
/// object it stands for). `fields` are the struct's members in declaration order, each with
/// whether it has a default (which alone may be missing at the end of an array). `None` for
/// anything else, an array longer than `fields`, or one missing a field without a default.
/// Shared by every struct's impl, so the array form costs one call per type.
pub fn members<'a>(v: &'a Value, fields: &[(&str, bool)]) -> Option<Cow<'a, Map<String, Value>>> {
    let items = match v {
        Value::Object(o) => return Some(Cow::Borrowed(o)),
        Value::Array(items) => items,
        _ => return None,
    };
    if items.len() > fields.len() || fields[items.len()..].iter().any(|(_, default)| !default) {
        return None;
    }
    let mut o = Map::new();
    for (item, (name, _)) in items.iter().zip(fields) {
        o.insert((*name).to_owned(), item.clone());
    }
    Some(Cow::Owned(o))
}

/// The name of a unit variant as serde reads one from a `Value`: a string, or an object of one
/// member whose value is `null`.
pub fn unit_variant(v: &Value) -> Option<&str> {
    match v {
        Value::String(s) => Some(s),
        Value::Object(o) if o.len() == 1 => match o.iter().next() {
            Some((name, Value::Null)) => Some(name),
            _ => None,
        },
        _ => None,
    }
}

impl FromValue for bool {
    fn from_value(v: &Value) -> Option<Self> {
        v.as_bool()
    }
}

impl FromValue for String {
    fn from_value(v: &Value) -> Option<Self> {
        v.as_str().map(str::to_owned)
    }
}

/// Whole numbers only, as serde reads an `i64` (`1.0` is refused).
impl FromValue for i64 {
    fn from_value(v: &Value) -> Option<Self> {
        v.as_i64()
    }
}

impl FromValue for u64 {
    fn from_value(v: &Value) -> Option<Self> {
        v.as_u64()
    }
}

impl FromValue for u32 {
    fn from_value(v: &Value) -> Option<Self> {
        v.as_u64()?.try_into().ok()
    }
}

/// Any number, whole or not, as serde reads an `f64`.
impl FromValue for f64 {
    fn from_value(v: &Value) -> Option<Self> {
        v.as_f64()
    }
}

/// Any value, as it is.
impl FromValue for Value {
    fn from_value(v: &Value) -> Option<Self> {
        Some(v.clone())
    }
}

/// `null` and an absent member are `None`.
impl<T: FromValue> FromValue for Option<T> {
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Null => Some(None),
            v => T::from_value(v).map(Some),
        }
    }

    fn absent() -> Option<Self> {
        Some(None)
    }
}

impl<T: FromValue> FromValue for Vec<T> {
    fn from_value(v: &Value) -> Option<Self> {
        // A loop, not `collect::<Option<_>>`, whose adapter would be code of its own per type.
        let items = v.as_array()?;
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            out.push(T::from_value(item)?);
        }
        Some(out)
    }
}

/// `null`, as serde writes the unit (a call with no body names it as its body's type).
impl ToValue for () {
    fn to_value(&self) -> Value {
        Value::Null
    }
}

impl ToValue for bool {
    fn to_value(&self) -> Value {
        Value::Bool(*self)
    }
}

impl ToValue for String {
    fn to_value(&self) -> Value {
        Value::String(self.clone())
    }
}

impl ToValue for i64 {
    fn to_value(&self) -> Value {
        Value::from(*self)
    }
}

impl ToValue for u64 {
    fn to_value(&self) -> Value {
        Value::from(*self)
    }
}

impl ToValue for u32 {
    fn to_value(&self) -> Value {
        Value::from(*self)
    }
}

/// `null` for a NaN or an infinity, as serde_json writes them.
impl ToValue for f64 {
    fn to_value(&self) -> Value {
        serde_json::Number::from_f64(*self).map_or(Value::Null, Value::Number)
    }
}

impl ToValue for Value {
    fn to_value(&self) -> Value {
        self.clone()
    }
}

impl<T: ToValue> ToValue for Option<T> {
    fn to_value(&self) -> Value {
        self.as_ref().map_or(Value::Null, T::to_value)
    }
}

impl<T: ToValue> ToValue for Vec<T> {
    fn to_value(&self) -> Value {
        Value::Array(self.iter().map(T::to_value).collect())
    }
}

/// The test every type's impls are held to: `FromValue` and the serde derive agree on `good`
/// and on every variation of it one member away (absent, `null`, another type of value, a
/// number of another kind), and `ToValue` writes what serde writes of each one read.
#[cfg(test)]
pub(crate) fn assert_as_serde<T>(good: Value)
where
    T: FromValue
        + ToValue
        + serde::de::DeserializeOwned
        + serde::Serialize
        + PartialEq
        + std::fmt::Debug,
{
    use serde_json::json;
    let check = |v: &Value| {
        let serde = serde_json::from_value::<T>(v.clone()).ok();
        assert_eq!(T::from_value(v), serde, "{v}");
        if let Some(t) = serde {
            assert_eq!(t.to_value(), serde_json::to_value(&t).unwrap(), "written, from {v}");
        }
    };
    check(&good);
    assert!(T::from_value(&good).is_some(), "the good sample reads: {good}");
    for other in [json!(null), json!(1), json!("x"), json!([]), json!({})] {
        check(&other);
    }
    let Some(members) = good.as_object() else { return };
    let others = [
        json!(null),
        json!(true),
        json!(0),
        json!(-1),
        json!(1.5),
        json!(4_294_967_296u64),
        json!(u64::MAX),
        json!("text"),
        json!("CASH"),
        json!("warning"),
        json!([]),
        json!({}),
    ];
    for key in members.keys() {
        let mut without = good.clone();
        without.as_object_mut().unwrap().remove(key);
        check(&without);
        for other in &others {
            let mut changed = good.clone();
            changed[key] = other.clone();
            check(&changed);
        }
    }
    let mut extra = good.clone();
    extra["not_a_member"] = json!(1);
    check(&extra);
    // The same struct as the array of its fields in declaration order (which serde writes),
    // then shorter, one too many, and each element another value.
    let fields = fields_in_order(&serde_json::from_value::<T>(good.clone()).unwrap());
    let array = Value::Array(fields.clone());
    // Read by serde but for a struct it writes without a member (`skip_serializing_if`).
    check(&array);
    let mut fewer = fields.clone();
    while fewer.pop().is_some() {
        check(&Value::Array(fewer.clone()));
    }
    let mut more = fields.clone();
    more.push(json!(1));
    check(&Value::Array(more));
    for i in 0..fields.len() {
        for other in &others {
            let mut changed = fields.clone();
            changed[i] = other.clone();
            check(&Value::Array(changed));
        }
    }
}

/// `t`'s members as serde writes them, in declaration order.
#[cfg(test)]
fn fields_in_order<T: serde::Serialize>(t: &T) -> Vec<Value> {
    use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
    struct Ordered(Vec<Value>);
    struct Members;
    impl<'de> Visitor<'de> for Members {
        type Value = Vec<Value>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Vec<Value>, A::Error> {
            let mut out = Vec::new();
            while let Some((_, v)) = m.next_entry::<String, Value>()? {
                out.push(v);
            }
            Ok(out)
        }
    }
    impl<'de> Deserialize<'de> for Ordered {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_map(Members).map(Ordered)
        }
    }
    let text = serde_json::to_string(t).unwrap();
    serde_json::from_str::<Ordered>(&text).unwrap().0
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The workspace enables serde_json's `float_roundtrip`: without it, some numbers (sums
    /// such as `1.4000000000000001`, what JavaScript and serde_json themselves write) read one
    /// ulp away from the nearest `f64`, so a figure could reach the server, or come back from
    /// it, other than the browser wrote it (fuzz/README.md, finding 2).
    #[test]
    fn floats_read_as_written() {
        let mut texts = vec![
            "1.4000000000000001".to_owned(),
            "6.666666666666667e40".to_owned(),
            "-1.490143767845386e129".to_owned(),
        ];
        for a in 0..300 {
            for b in 0..300 {
                texts.push(
                    serde_json::to_string(&(f64::from(a) * 0.01 + f64::from(b) * 0.1)).unwrap(),
                );
            }
        }
        for text in &texts {
            let nearest: f64 = text.parse().unwrap();
            assert_eq!(serde_json::from_str::<f64>(text).ok(), Some(nearest), "{text}");
            let v: Value = serde_json::from_str(text).unwrap();
            assert_eq!(v.as_f64(), Some(nearest), "{text} in a Value");
        }
    }

    #[test]
    fn numbers_read_as_serde_reads_them() {
        for v in [json!(0), json!(-1), json!(1.0), json!(1.5), json!(u64::MAX), json!(i64::MIN)] {
            let same = |a: Option<f64>, b: Option<f64>| assert_eq!(a, b, "{v}");
            same(f64::from_value(&v), serde_json::from_value(v.clone()).ok());
            assert_eq!(i64::from_value(&v), serde_json::from_value(v.clone()).ok(), "{v}");
            assert_eq!(u64::from_value(&v), serde_json::from_value(v.clone()).ok(), "{v}");
            assert_eq!(u32::from_value(&v), serde_json::from_value(v.clone()).ok(), "{v}");
        }
    }

    /// Every type that has an impl, from a sample of what the server sends.
    #[test]
    fn every_wire_type_reads_as_its_serde_derive_reads_it() {
        use crate::events::*;
        use crate::rest::*;
        use crate::{Ack, Envelope, ErrorCode, WireError};
        let delivery = json!({ "id": 4, "customer_id": 2, "customer_name": "Amina", "date": "2026-12-05",
            "quantity": 12.5, "price_per_liter": 1.5, "amount": 18.75, "updated_at": 1_700_000_000_000i64 });
        let payment = json!({ "id": 9, "customer_id": 2, "customer_name": "Amina", "amount": 50,
            "method": "MOBILE", "date": "2026-12-05", "note": "May", "created_at": 1_700_000_000_000i64 });
        let customer = json!({ "id": 2, "name": "Amina", "phone": "+255", "address": null,
            "price_per_liter": 1.5, "balance": -3.25, "active": true, "updated_at": 5 });
        let stats = json!({ "today_liters": 12.5, "today_sales": 3, "today_collection": 0,
            "outstanding": -4.25, "active_customers": 2, "deliveries_today": 4 });
        let user = json!({ "id": 1, "tenant_id": 1, "name": "Ada", "email": "a@b.c", "role": "admin", "active": false });
        let error = json!({ "code": "FORBIDDEN", "message": "not yours" });
        assert_as_serde::<Delivery>(delivery.clone());
        assert_as_serde::<Payment>(payment.clone());
        assert_as_serde::<Customer>(customer.clone());
        assert_as_serde::<Stats>(stats.clone());
        assert_as_serde::<BalanceUpdated>(json!({ "customer_id": 2, "balance": 7 }));
        assert_as_serde::<Notification>(json!({ "id": 3, "title": "t", "body": "b",
            "level": "warning", "created_at": 5, "read": false }));
        assert_as_serde::<NotificationsRead>(json!({ "ids": [1, 2] }));
        assert_as_serde::<Activity>(json!({ "seq": 8, "ts": 5, "actor": "demo",
            "action": "payment:added", "summary": "Amina paid 50" }));
        assert_as_serde::<Alert>(json!({ "level": "critical", "message": "db down" }));
        assert_as_serde::<ConnectionStatus>(json!({ "epoch": "e1", "head": 9, "node": "n1" }));
        assert_as_serde::<Pong>(json!({ "server_time": 5 }));
        assert_as_serde::<Subscribed>(json!({ "topics": ["dashboard", "users"], "head": 9 }));
        assert_as_serde::<Envelope<Stats>>(json!({ "seq": 3, "ts": 5, "data": stats }));
        assert_as_serde::<Envelope<Value>>(json!({ "seq": 3, "ts": 5, "data": null }));
        assert_as_serde::<WireError>(error.clone());
        assert_as_serde::<User>(user.clone());
        assert_as_serde::<User>(
            json!({ "id": 1, "tenant_id": 1, "name": "Ada", "email": "a@b.c", "role": "staff" }),
        );
        assert_as_serde::<Session>(
            json!({ "token": "t", "expires_at": 5, "refresh_token": "r", "user": user }),
        );
        assert_as_serde::<Page<Delivery>>(json!({ "items": [delivery, delivery], "total": 2 }));
        assert_as_serde::<Page<Payment>>(json!({ "items": [payment], "total": 1 }));
        assert_as_serde::<Page<Customer>>(json!({ "items": [customer], "total": 1 }));
        let entry = json!({ "seq": 8, "ts": 1, "event": "payment:added", "data": { "x": 1.5 } });
        assert_as_serde::<LoggedEvent>(entry.clone());
        assert_as_serde::<EventsPage>(json!({ "events": [entry], "head": 9, "epoch": "e1" }));
        assert_as_serde::<Health>(json!({ "status": "ok", "database": "ok", "connections": 3,
            "uptime_s": 9, "version": "0.1.0", "node": "n1", "backend": "postgres", "leader": true,
            "redis": "ok", "peers": [{ "node": "n2", "addr": "127.0.0.1:1", "seen_ms_ago": 40 }] }));
        assert_as_serde::<Peer>(json!({ "node": "n2", "addr": "127.0.0.1:1", "seen_ms_ago": 40 }));
        assert_as_serde::<Ack<Value>>(json!({ "ok": true, "data": { "id": 1 } }));
        assert_as_serde::<Ack<Delivery>>(json!({ "ok": true, "data": delivery }));
        assert_as_serde::<Ack<Value>>(json!({ "ok": false, "error": error }));
        assert_as_serde::<Ack<u32>>(json!({ "ok": true, "data": 5, "error": null }));
        // What the dashboard sends.
        assert_as_serde::<LoginRequest>(json!({ "email": "a@b.c", "password": "p" }));
        assert_as_serde::<RefreshRequest>(json!({ "refresh_token": "r" }));
        assert_as_serde::<NewUser>(
            json!({ "name": "Ada", "email": "a@b.c", "role": "staff", "password": "p" }),
        );
        assert_as_serde::<UserPatch>(json!({ "active": false }));
        assert_as_serde::<PasswordChange>(json!({ "current_password": "a", "new_password": "b" }));
        assert_as_serde::<DeliveryUpdate>(json!({ "id": 4, "customer_id": 2, "date": "2026-12-05",
            "quantity": 12.5, "price_per_liter": 1.5, "idempotency_key": "k" }));
        assert_as_serde::<DeliveryUpdate>(
            json!({ "customer_id": 2, "date": "2026-12-05", "quantity": 0.1 }),
        );
        assert_as_serde::<PaymentAdd>(json!({ "customer_id": 2, "amount": 50.25, "method": "BANK",
            "date": "2026-12-05", "note": "May", "idempotency_key": "k" }));
        assert_as_serde::<CustomerUpdate>(json!({ "id": 2, "name": "Amina", "phone": "+255",
            "address": "x", "price_per_liter": 1.5, "active": false, "idempotency_key": "k" }));
        assert_as_serde::<CustomerUpdate>(json!({ "id": 2 }));
        assert_as_serde::<CustomerAdd>(json!({ "name": "Amina", "phone": null, "address": "x",
            "price_per_liter": 1.5, "idempotency_key": "k" }));
        assert_as_serde::<MarkRead>(json!({ "id": 3 }));
        assert_as_serde::<MarkRead>(json!({}));
        // Each variant written as serde writes it.
        for m in PaymentMethod::ALL {
            assert_eq!(m.to_value(), serde_json::to_value(m).unwrap());
        }
        for l in Level::ALL {
            assert_eq!(l.to_value(), serde_json::to_value(l).unwrap());
        }
        for c in ErrorCode::ALL {
            assert_eq!(c.to_value(), serde_json::to_value(c).unwrap());
        }
        let some: Topics = [Topic::Users, Topic::Dashboard].into_iter().collect();
        for t in [Topics::NONE, some, Topic::ALL.into_iter().collect()] {
            assert_eq!(t.to_value(), serde_json::to_value(t).unwrap());
        }
        assert_eq!(().to_value(), serde_json::to_value(()).unwrap());
        // Not JSON numbers: serde_json writes `null`.
        for x in [f64::NAN, f64::INFINITY, -0.0, 1e300, 5e-324] {
            assert_eq!(x.to_value(), serde_json::to_value(x).unwrap(), "{x}");
        }
        // Each unit variant's name as a string, and the object forms serde also reads.
        let forms = |name: &str| {
            [
                json!(name),
                json!({ name: null }),
                json!({ name: 1 }),
                json!({ name: null, "x": null }),
            ]
        };
        for name in ["CASH", "MOBILE", "BANK", "cash", "OTHER"] {
            for v in forms(name) {
                let serde = serde_json::from_value(v.clone()).ok();
                assert_eq!(PaymentMethod::from_value(&v), serde, "{v}");
            }
        }
        for name in ["info", "warning", "critical", "Info", "error"] {
            for v in forms(name) {
                assert_eq!(Level::from_value(&v), serde_json::from_value(v.clone()).ok(), "{v}");
            }
        }
        for name in ["FORBIDDEN", "RESYNC_REQUIRED", "SOMETHING_NEW", "forbidden"] {
            for v in forms(name) {
                let serde = serde_json::from_value(v.clone()).ok();
                assert_eq!(ErrorCode::from_value(&v), serde, "{v}");
            }
        }
        for v in [json!([]), json!(["users", "users"]), json!(["nope"]), json!("users"), json!([1])]
        {
            assert_eq!(Topics::from_value(&v), serde_json::from_value(v.clone()).ok(), "{v}");
        }
        for v in forms("users") {
            assert_eq!(Topic::from_value(&v), serde_json::from_value(v.clone()).ok(), "{v}");
        }
    }

    #[test]
    fn options_and_lists_read_as_serde_reads_them() {
        for v in [json!(null), json!([1, 2]), json!([1, "x"]), json!([]), json!(1), json!({})] {
            let serde = serde_json::from_value::<Option<Vec<i64>>>(v.clone()).ok();
            assert_eq!(Option::<Vec<i64>>::from_value(&v), serde, "{v}");
            let serde = serde_json::from_value::<Vec<Option<i64>>>(v.clone()).ok();
            assert_eq!(Vec::<Option<i64>>::from_value(&v), serde, "{v}");
        }
    }
}
