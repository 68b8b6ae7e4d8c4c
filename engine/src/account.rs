//! Residents' accounts at the door (一人一账号): one account per phone
//! number, personal links that open a resident's requests, one-time codes
//! that link another device or confirm a phone, and orders held until their
//! phone is confirmed.
//!
//! These are domain rules, so they live here, with no I/O: what makes two
//! phone numbers the same ([`normalize_phone`]), how the phone index is
//! keyed without revealing phones ([`PhoneKey`]), how long a code lives and
//! how often it may be tried ([`PendingCode::check`]), how many orders may
//! wait and for how long ([`HeldOrder`], [`HELD_ORDERS_MAX`]). The store of
//! them is the [`AccountStore`] trait, implemented on the embedded store
//! beside the personal data (`gridloop-store-sled`) and in memory
//! ([`MemoryAccounts`]) for tests. Randomness and the clock are the
//! caller's: every function here takes the random bytes or the instant it
//! needs, so the rules are deterministic.
//!
//! Nothing here enters the log. A resident id is opaque (`R-` and random
//! hex, [`resident_id`]), never derived from the phone, so the log names no
//! phone even through a hash.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::Error;
use crate::ids::ResidentId;
use crate::time::{MINUTE_MS, Millis, Timestamp};

/// The fewest digits of a phone number after normalizing.
pub const PHONE_DIGITS_MIN: usize = 5;
/// The most digits of a phone number after normalizing (E.164's 15).
pub const PHONE_DIGITS_MAX: usize = 15;
/// Digits in a one-time code.
pub const CODE_DIGITS: usize = 6;
/// How long a one-time code may be used.
pub const CODE_TTL: Millis = Millis(10 * MINUTE_MS);
/// How many wrong codes end a pending code (a new one must be asked for).
pub const CODE_ATTEMPTS_MAX: u32 = 5;
/// How soon after one code another may be sent for the same phone.
pub const CODE_RESEND_AFTER: Millis = Millis(MINUTE_MS);
/// How long an order waits for its phone to be confirmed.
pub const HELD_ORDER_TTL: Millis = Millis(30 * MINUTE_MS);
/// The most orders waiting for a confirmation at once, in the whole store.
pub const HELD_ORDERS_MAX: usize = 10_000;
/// The most orders waiting for one phone's confirmation.
pub const HELD_ORDERS_PER_PHONE_MAX: usize = 3;
/// The most personal links one resident holds; the oldest goes first.
pub const LINKS_PER_RESIDENT_MAX: usize = 16;
/// The largest held order, in bytes of its serialized request.
pub const HELD_ORDER_BYTES_MAX: usize = 64 * 1024;

/// A phone number as the index knows it: digits only, a leading `+86` (or
/// `0086`) dropped, spaces, dashes, dots and parentheses ignored. Anything
/// else, or fewer than 5 or more than 15 digits, is refused.
pub fn normalize_phone(text: &str) -> Result<String, Error> {
    let refuse = || Error::invalid("phone", "must be a phone number of 5 to 15 digits");
    let kept: String = text.trim().chars().filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')')).collect();
    let kept = kept.strip_prefix("+86").or_else(|| kept.strip_prefix("0086")).unwrap_or(&kept);
    let digits = kept.strip_prefix('+').unwrap_or(kept);
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return Err(refuse());
    }
    if !(PHONE_DIGITS_MIN..=PHONE_DIGITS_MAX).contains(&digits.len()) {
        return Err(refuse());
    }
    Ok(digits.to_string())
}

/// The key of a phone in the account index: BLAKE3 keyed by the
/// deployment's secret over the normalized number. Without the secret the
/// index cannot be searched for a number, nor a number guessed from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PhoneKey(pub [u8; 32]);

impl PhoneKey {
    /// The key of `phone` (any shape [`normalize_phone`] accepts).
    pub fn of(secret: &[u8; 32], phone: &str) -> Result<Self, Error> {
        let normalized = normalize_phone(phone)?;
        Ok(Self(*blake3::keyed_hash(secret, normalized.as_bytes()).as_bytes()))
    }
}

/// How many last digits of a phone the tail index keeps a key for.
pub const PHONE_TAIL_DIGITS: usize = 4;
/// The most residents one tail lists (a 4-digit tail is shared by about
/// one in 10,000 phones; a search past this many is too broad to help).
pub const TAIL_RESIDENTS_MAX: usize = 200;

/// The key of a phone's last [`PHONE_TAIL_DIGITS`] digits in the tail
/// index, which finds residents by the end of their phone (a dispatcher's
/// search, "the caller ending 5678"): BLAKE3 keyed by the deployment's
/// secret over a domain label and the digits, so a leaked index names no
/// digits, and a tail key never equals a phone's key. See
/// `docs/adr/0006-console-decisions.md`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TailKey(pub [u8; 32]);

impl TailKey {
    /// The key of the last digits of `phone` (any shape [`normalize_phone`]
    /// accepts).
    pub fn of_phone(secret: &[u8; 32], phone: &str) -> Result<Self, Error> {
        let normalized = normalize_phone(phone)?;
        Self::of_digits(secret, &normalized[normalized.len() - PHONE_TAIL_DIGITS..])
    }

    /// The key of exactly [`PHONE_TAIL_DIGITS`] ASCII digits, as searched.
    pub fn of_digits(secret: &[u8; 32], digits: &str) -> Result<Self, Error> {
        if digits.len() != PHONE_TAIL_DIGITS || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::invalid("phone", format!("the last {PHONE_TAIL_DIGITS} digits of a phone")));
        }
        let mut hasher = blake3::Hasher::new_keyed(secret);
        hasher.update(b"gridloop phone tail\0").update(digits.as_bytes());
        Ok(Self(*hasher.finalize().as_bytes()))
    }
}

/// A fresh resident id from 8 random bytes: `R-` and 16 hex digits.
pub fn resident_id(random: [u8; 8]) -> Result<ResidentId, Error> {
    ResidentId::new(format!("R-{}", hex(&random)))
}

/// The hash a secret (a link's text, a code) is stored under: never the
/// secret itself. Codes are few, so theirs is keyed by the deployment
/// secret and the phone, which a leaked store does not give away.
pub fn secret_hash(key: Option<(&[u8; 32], &PhoneKey)>, secret: &str) -> [u8; 32] {
    match key {
        None => *blake3::hash(secret.as_bytes()).as_bytes(),
        Some((deployment, phone)) => {
            let mut hasher = blake3::Hasher::new_keyed(deployment);
            hasher.update(&phone.0).update(secret.as_bytes());
            *hasher.finalize().as_bytes()
        }
    }
}

/// A personal link: the capability that opens one resident's requests,
/// stored under its hash ([`secret_hash`] without a key).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    /// Whose requests it opens.
    pub resident: ResidentId,
    /// When it was made.
    pub created_at: Timestamp,
}

/// A link's public id: the first 16 hex digits of its hash (the hash is no
/// secret; it names a link for listing and revoking).
pub fn link_id(hash: &[u8; 32]) -> String {
    hex(&hash[..8])
}

/// Why a one-time code is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CodeUse {
    /// To link another device to the resident's requests.
    LinkDevice,
    /// To confirm the phone of a held order.
    ConfirmPhone,
}

/// A one-time code made from `random`: [`CODE_DIGITS`] decimal digits.
pub fn code_from(random: u64) -> String {
    format!("{:06}", random % 1_000_000)
}

/// A code waiting to be used: stored by phone, its hash only.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingCode {
    /// What the code is for.
    pub purpose: CodeUse,
    /// [`secret_hash`] of the code, keyed by the deployment and the phone.
    pub hash: [u8; 32],
    /// When it was sent.
    pub sent_at: Timestamp,
    /// Wrong tries so far.
    pub attempts: u32,
}

/// What presenting a code found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The code is right and unused: it is spent now.
    Accepted,
    /// The code is wrong; the pending code stays with one try fewer.
    Wrong,
    /// The pending code is expired, used up, or for another purpose: it is
    /// gone, and a new one must be asked for.
    Spent,
}

impl PendingCode {
    /// A new pending code, unless one was sent for this phone less than
    /// [`CODE_RESEND_AFTER`] ago (`previous`), which bounds what one phone
    /// can be sent.
    pub fn issue(purpose: CodeUse, hash: [u8; 32], now: Timestamp, previous: Option<&Self>) -> Result<Self, Error> {
        if previous.is_some_and(|p| now < p.sent_at.plus(CODE_RESEND_AFTER)) {
            return Err(Error::invalid(
                "phone",
                "a code was sent less than a minute ago: wait for it, or try again in a minute",
            ));
        }
        Ok(Self { purpose, hash, sent_at: now, attempts: 0 })
    }

    /// Whether it can still be used at `now`.
    pub fn live(&self, now: Timestamp) -> bool {
        now < self.sent_at.plus(CODE_TTL) && self.attempts < CODE_ATTEMPTS_MAX
    }

    /// Judges a presented code (its `hash`) for `purpose` at `now`, and
    /// what is kept: `Some` with one try more after a wrong code, `None`
    /// once it is spent (accepted, expired, or tried too often).
    pub fn check(&self, purpose: CodeUse, hash: &[u8; 32], now: Timestamp) -> (Verdict, Option<Self>) {
        if !self.live(now) || purpose != self.purpose {
            return (Verdict::Spent, None);
        }
        if constant_eq(&self.hash, hash) {
            return (Verdict::Accepted, None);
        }
        let kept = Self { attempts: self.attempts + 1, ..self.clone() };
        let kept = kept.live(now).then_some(kept);
        (Verdict::Wrong, kept)
    }
}

/// An order waiting for its phone to be confirmed: outside the log, with a
/// bound and an expiry. `request` is the door's own order, as it will be
/// submitted once confirmed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldOrder {
    /// Whose phone must confirm it.
    pub phone: PhoneKey,
    /// The resident the order will be for: the phone's account, or one made
    /// for it (whose phone is claimed only when confirmed).
    pub resident: ResidentId,
    /// Whether `resident` is new (its record is erased if the order expires).
    pub new_resident: bool,
    /// The order as the door took it (JSON).
    pub request: String,
    /// When it was held.
    pub held_at: Timestamp,
}

impl HeldOrder {
    /// A held order, refused when its request is past
    /// [`HELD_ORDER_BYTES_MAX`], the store holds [`HELD_ORDERS_MAX`] live
    /// orders (`held`), or the phone already has
    /// [`HELD_ORDERS_PER_PHONE_MAX`] waiting (`for_phone`).
    pub fn new(
        phone: PhoneKey,
        resident: ResidentId,
        new_resident: bool,
        request: String,
        now: Timestamp,
        held: usize,
        for_phone: usize,
    ) -> Result<Self, Error> {
        if request.len() > HELD_ORDER_BYTES_MAX {
            return Err(Error::invalid("order", "is too large to hold"));
        }
        if held >= HELD_ORDERS_MAX || for_phone >= HELD_ORDERS_PER_PHONE_MAX {
            return Err(Error::invalid("order", "too many orders are waiting for a confirmation: try again later"));
        }
        Ok(Self { phone, resident, new_resident, request, held_at: now })
    }

    /// Whether it has waited past [`HELD_ORDER_TTL`] at `now`.
    pub fn expired(&self, now: Timestamp) -> bool {
        now >= self.held_at.plus(HELD_ORDER_TTL)
    }
}

/// Where accounts, links, codes and held orders are kept (never the log).
/// Every method is one atomic step of the store.
pub trait AccountStore: Send + Sync {
    /// The deployment's secret that keys the phone index and the codes,
    /// made on first use and kept.
    fn secret(&self) -> Result<[u8; 32], Error>;
    /// The account of a phone, if any.
    fn resident_of(&self, phone: &PhoneKey) -> Result<Option<ResidentId>, Error>;
    /// Gives `phone` the account `resident` unless it has one: the account
    /// the phone has afterwards (the first claim wins, so one phone is
    /// never two residents).
    fn claim(&self, phone: &PhoneKey, resident: &ResidentId) -> Result<ResidentId, Error>;
    /// Keeps a link under its hash; the resident's oldest links go past
    /// [`LINKS_PER_RESIDENT_MAX`].
    fn put_link(&self, hash: &[u8; 32], link: &Link) -> Result<(), Error>;
    /// The link stored under `hash`.
    fn link(&self, hash: &[u8; 32]) -> Result<Option<Link>, Error>;
    /// A resident's links with their hashes, oldest first.
    fn links_of(&self, resident: &ResidentId) -> Result<Vec<([u8; 32], Link)>, Error>;
    /// Revokes the link under `hash`; whether there was one.
    fn revoke(&self, hash: &[u8; 32]) -> Result<bool, Error>;
    /// The code pending for a phone.
    fn code(&self, phone: &PhoneKey) -> Result<Option<PendingCode>, Error>;
    /// Keeps (`Some`) or removes (`None`) the code pending for a phone.
    fn set_code(&self, phone: &PhoneKey, code: Option<&PendingCode>) -> Result<(), Error>;
    /// Holds an order under `id`.
    fn hold(&self, id: &str, order: &HeldOrder) -> Result<(), Error>;
    /// The held orders: all of them (for bounds and expiry), by id.
    fn held(&self) -> Result<Vec<(String, HeldOrder)>, Error>;
    /// Takes a held order out; what it was.
    fn release(&self, id: &str) -> Result<Option<HeldOrder>, Error>;
    /// Forgets a resident (erasure): their links, their phone's entry in
    /// the index and their tail entries; how many entries went.
    fn forget(&self, resident: &ResidentId) -> Result<usize, Error>;
    /// Lists `resident` under the tail key of their phone (once however
    /// often it is called).
    fn index_tail(&self, tail: &TailKey, resident: &ResidentId) -> Result<(), Error>;
    /// The residents listed under a tail key, at most
    /// [`TAIL_RESIDENTS_MAX`].
    fn residents_by_tail(&self, tail: &TailKey) -> Result<Vec<ResidentId>, Error>;
}

/// The [`AccountStore`] in memory, for tests and servers without a disk.
#[derive(Debug, Default)]
pub struct MemoryAccounts {
    secret: [u8; 32],
    inner: Mutex<Accounts>,
}

#[derive(Debug, Default)]
struct Accounts {
    phones: HashMap<PhoneKey, ResidentId>,
    links: BTreeMap<[u8; 32], Link>,
    codes: HashMap<PhoneKey, PendingCode>,
    held: BTreeMap<String, HeldOrder>,
    tails: BTreeMap<TailKey, std::collections::BTreeSet<ResidentId>>,
}

impl MemoryAccounts {
    /// An empty store with the given deployment secret.
    pub fn new(secret: [u8; 32]) -> Self {
        Self { secret, inner: Mutex::default() }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Accounts> {
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl AccountStore for MemoryAccounts {
    fn secret(&self) -> Result<[u8; 32], Error> {
        Ok(self.secret)
    }

    fn resident_of(&self, phone: &PhoneKey) -> Result<Option<ResidentId>, Error> {
        Ok(self.lock().phones.get(phone).cloned())
    }

    fn claim(&self, phone: &PhoneKey, resident: &ResidentId) -> Result<ResidentId, Error> {
        Ok(self.lock().phones.entry(*phone).or_insert_with(|| resident.clone()).clone())
    }

    fn put_link(&self, hash: &[u8; 32], link: &Link) -> Result<(), Error> {
        let mut inner = self.lock();
        inner.links.insert(*hash, link.clone());
        let mut own: Vec<([u8; 32], Timestamp)> =
            inner.links.iter().filter(|(_, l)| l.resident == link.resident).map(|(h, l)| (*h, l.created_at)).collect();
        own.sort_by_key(|(_, at)| *at);
        while own.len() > LINKS_PER_RESIDENT_MAX {
            let (oldest, _) = own.remove(0);
            inner.links.remove(&oldest);
        }
        Ok(())
    }

    fn link(&self, hash: &[u8; 32]) -> Result<Option<Link>, Error> {
        Ok(self.lock().links.get(hash).cloned())
    }

    fn links_of(&self, resident: &ResidentId) -> Result<Vec<([u8; 32], Link)>, Error> {
        let mut own: Vec<_> =
            self.lock().links.iter().filter(|(_, l)| &l.resident == resident).map(|(h, l)| (*h, l.clone())).collect();
        own.sort_by_key(|(_, l)| l.created_at);
        Ok(own)
    }

    fn revoke(&self, hash: &[u8; 32]) -> Result<bool, Error> {
        Ok(self.lock().links.remove(hash).is_some())
    }

    fn code(&self, phone: &PhoneKey) -> Result<Option<PendingCode>, Error> {
        Ok(self.lock().codes.get(phone).cloned())
    }

    fn set_code(&self, phone: &PhoneKey, code: Option<&PendingCode>) -> Result<(), Error> {
        let mut inner = self.lock();
        match code {
            Some(code) => inner.codes.insert(*phone, code.clone()),
            None => inner.codes.remove(phone),
        };
        Ok(())
    }

    fn hold(&self, id: &str, order: &HeldOrder) -> Result<(), Error> {
        self.lock().held.insert(id.to_string(), order.clone());
        Ok(())
    }

    fn held(&self) -> Result<Vec<(String, HeldOrder)>, Error> {
        Ok(self.lock().held.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
    }

    fn release(&self, id: &str) -> Result<Option<HeldOrder>, Error> {
        Ok(self.lock().held.remove(id))
    }

    fn forget(&self, resident: &ResidentId) -> Result<usize, Error> {
        let mut inner = self.lock();
        let before = inner.links.len() + inner.phones.len();
        inner.links.retain(|_, l| &l.resident != resident);
        inner.phones.retain(|_, r| r != resident);
        let mut gone = before - inner.links.len() - inner.phones.len();
        for listed in inner.tails.values_mut() {
            gone += usize::from(listed.remove(resident));
        }
        inner.tails.retain(|_, listed| !listed.is_empty());
        Ok(gone)
    }

    fn index_tail(&self, tail: &TailKey, resident: &ResidentId) -> Result<(), Error> {
        self.lock().tails.entry(*tail).or_default().insert(resident.clone());
        Ok(())
    }

    fn residents_by_tail(&self, tail: &TailKey) -> Result<Vec<ResidentId>, Error> {
        let inner = self.lock();
        Ok(inner.tails.get(tail).map(|l| l.iter().take(TAIL_RESIDENTS_MAX).cloned().collect()).unwrap_or_default())
    }
}

/// Compares two hashes in time that does not depend on where they differ.
fn constant_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minutes: u64) -> Timestamp {
        Timestamp::parse("2026-11-23T08:00:00Z").expect("valid").plus(Millis(minutes * MINUTE_MS))
    }

    #[test]
    fn phones_normalize_to_their_digits() {
        for same in ["13800138000", "+86 138-0013-8000", "0086 (138) 0013 8000", " 138.0013.8000 "] {
            assert_eq!(normalize_phone(same).expect("a phone"), "13800138000", "{same}");
        }
        assert_eq!(normalize_phone("+44 20 7946 0000").expect("a phone"), "442079460000");
        for bad in ["", "1234", "138a0013800", "+", "1234567890123456", "138\n00138000"] {
            assert!(normalize_phone(bad).is_err(), "{bad:?}");
        }
        let secret = [7u8; 32];
        assert_eq!(PhoneKey::of(&secret, "+8613800138000").ok(), PhoneKey::of(&secret, "138 0013 8000").ok());
        assert_ne!(PhoneKey::of(&secret, "13800138000").ok(), PhoneKey::of(&[8u8; 32], "13800138000").ok());
    }

    #[test]
    fn a_code_is_single_use_expiring_and_bounded() {
        let phone = PhoneKey([1; 32]);
        let secret = [2u8; 32];
        let right = secret_hash(Some((&secret, &phone)), "123456");
        let wrong = secret_hash(Some((&secret, &phone)), "654321");
        let code = PendingCode::issue(CodeUse::LinkDevice, right, at(0), None).expect("issued");
        assert!(PendingCode::issue(CodeUse::LinkDevice, right, at(0), Some(&code)).is_err(), "no resend at once");
        assert_eq!(code.check(CodeUse::LinkDevice, &right, at(1)), (Verdict::Accepted, None));
        assert_eq!(code.check(CodeUse::ConfirmPhone, &right, at(1)).0, Verdict::Spent, "another purpose");
        assert_eq!(code.check(CodeUse::LinkDevice, &right, at(10)).0, Verdict::Spent, "expired");
        let mut kept = code;
        for _ in 1..CODE_ATTEMPTS_MAX {
            let (verdict, next) = kept.check(CodeUse::LinkDevice, &wrong, at(1));
            assert_eq!(verdict, Verdict::Wrong);
            kept = next.expect("kept while tries are left");
        }
        assert_eq!(kept.check(CodeUse::LinkDevice, &wrong, at(1)), (Verdict::Wrong, None), "the last try spends it");
    }

    #[test]
    fn held_orders_are_bounded_and_expire() {
        let resident = resident_id([1; 8]).expect("an id");
        let hold = |held, for_phone| {
            HeldOrder::new(PhoneKey([0; 32]), resident.clone(), true, "{}".into(), at(0), held, for_phone)
        };
        let order = hold(0, 0).expect("held");
        assert!(!order.expired(at(29)) && order.expired(at(30)));
        assert!(hold(HELD_ORDERS_MAX, 0).is_err());
        assert!(hold(0, HELD_ORDERS_PER_PHONE_MAX).is_err());
    }

    #[test]
    fn a_resident_keeps_a_bounded_number_of_links_and_one_account_per_phone() {
        let store = MemoryAccounts::new([3; 32]);
        let (a, b) = (resident_id([1; 8]).expect("id"), resident_id([2; 8]).expect("id"));
        let phone = PhoneKey([9; 32]);
        assert_eq!(store.claim(&phone, &a).expect("claimed"), a);
        assert_eq!(store.claim(&phone, &b).expect("claimed"), a, "the first claim wins");
        for n in 0..=LINKS_PER_RESIDENT_MAX as u8 {
            let link = Link { resident: a.clone(), created_at: at(u64::from(n)) };
            store.put_link(&[n; 32], &link).expect("kept");
        }
        let links = store.links_of(&a).expect("links");
        assert_eq!(links.len(), LINKS_PER_RESIDENT_MAX);
        assert!(store.link(&[0; 32]).expect("read").is_none(), "the oldest went");
        assert_eq!(store.forget(&a).expect("forgotten"), LINKS_PER_RESIDENT_MAX + 1);
        assert_eq!(store.resident_of(&phone).expect("read"), None);
    }

    #[test]
    fn a_phone_tail_finds_its_residents_and_erasure_forgets_them() {
        let secret = [5u8; 32];
        let tail = TailKey::of_phone(&secret, "+86 138-0013-5678").expect("a tail");
        assert_eq!(TailKey::of_digits(&secret, "5678").ok(), Some(tail), "the last four digits, normalized");
        assert_ne!(TailKey::of_digits(&secret, "5679").ok(), Some(tail));
        assert_ne!(TailKey::of_digits(&[6u8; 32], "5678").ok(), Some(tail), "keyed by the deployment");
        for bad in ["567", "56789", "56a8", "５６７８"] {
            assert!(TailKey::of_digits(&secret, bad).is_err(), "{bad:?}");
        }
        let store = MemoryAccounts::new(secret);
        let (a, b) = (resident_id([1; 8]).expect("id"), resident_id([2; 8]).expect("id"));
        store.index_tail(&tail, &a).expect("indexed");
        store.index_tail(&tail, &a).expect("indexed again");
        store.index_tail(&tail, &b).expect("indexed");
        assert_eq!(store.residents_by_tail(&tail).expect("read"), vec![a.clone(), b.clone()]);
        assert_eq!(store.forget(&a).expect("forgotten"), 1);
        assert_eq!(store.residents_by_tail(&tail).expect("read"), vec![b]);
    }
}
