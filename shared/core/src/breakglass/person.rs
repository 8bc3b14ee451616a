//! Who called the break-glass function URL, as one identity per human. Pure.
//!
//! Lambda verifies a function URL request's SigV4 signature (`AuthType: AWS_IAM`) and passes the signer's ARN in
//! `requestContext.authorizer.iam.userArn`. Nothing in a request body names a person: [`person_of`] turns that ARN
//! into the [`Actor`] the ledger records, so that one human cannot appear as two people:
//!
//! | caller | actor | approves, releases, restores |
//! |---|---|---|
//! | `arn:aws:iam::A:user/[path/]NAME` | `person:iam-user/A/NAME` | yes |
//! | `arn:aws:sts::A:assumed-role/AWSReservedSSO_<set>_<id>/NAME` (IAM Identity Center sets the session name to the user name; the user cannot choose it) | `person:sso/NAME`, whatever the permission set or account | yes |
//! | `arn:aws:sts::A:assumed-role/ROLE/NAME` with ROLE listed as a person role (its trust policy requires `sts:RoleSessionName` = `${aws:username}` of a user of account A) | `person:iam-user/A/NAME`, the same as that user signing directly | yes |
//! | any other role session or federated user (the caller chose the name) | `automation:role/A/ROLE/NAME` | no: may request what automation may |
//! | the account root, or anything else | refused | |

use crate::ledger::Actor;

/// The role-name prefix IAM Identity Center gives the roles of its permission sets.
pub const SSO_ROLE_PREFIX: &str = "AWSReservedSSO_";

/// Why a caller cannot act through the function URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallerRefused {
    #[error("the account root user may not use break-glass: sign in as a person")]
    Root,
    #[error("the caller {0:?} is not an IAM user or role session ARN")]
    Unrecognised(String),
}

/// The actor a SigV4-verified caller ARN stands for. `person_roles` lists role names (or role ARNs) whose
/// sessions are named after the IAM user who assumed them (enforced by each role's trust policy).
pub fn person_of(user_arn: &str, person_roles: &[String]) -> Result<Actor, CallerRefused> {
    let unrecognised = || CallerRefused::Unrecognised(crate::event::bounded(user_arn, 256));
    if user_arn.len() > 2048 {
        return Err(unrecognised());
    }
    // arn:PARTITION:SERVICE::ACCOUNT:RESOURCE
    let mut parts = user_arn.splitn(6, ':');
    let (Some("arn"), Some(partition), Some(service), Some(""), Some(account), Some(resource)) =
        (parts.next(), parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(unrecognised());
    };
    let account_ok = account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit());
    if !partition.starts_with("aws") || !account_ok {
        return Err(unrecognised());
    }
    match (service, resource.split('/').collect::<Vec<_>>().as_slice()) {
        ("iam", ["root"]) => Err(CallerRefused::Root),
        ("iam", ["user", .., name]) if is_name(name) => Ok(Actor::Person(format!("iam-user/{account}/{name}"))),
        ("sts", ["assumed-role", role, session]) if is_name(role) && is_name(session) => {
            if role.starts_with(SSO_ROLE_PREFIX) {
                Ok(Actor::Person(format!("sso/{session}")))
            } else if person_roles.iter().any(|listed| lists_role(listed, partition, account, role)) {
                Ok(Actor::Person(format!("iam-user/{account}/{session}")))
            } else {
                Ok(Actor::Automation(format!("role/{account}/{role}/{session}")))
            }
        }
        ("sts", ["federated-user", name]) if is_name(name) => {
            Ok(Actor::Automation(format!("federated/{account}/{name}")))
        }
        _ => Err(unrecognised()),
    }
}

/// Whether a `WARDEN_PERSON_ROLES` entry names this role: a role name (in any account), or a role ARN, whose path
/// an assumed-role ARN leaves out.
fn lists_role(listed: &str, partition: &str, account: &str, role: &str) -> bool {
    match listed.strip_prefix("arn:") {
        None => listed == role,
        Some(rest) => {
            let mut parts = rest.splitn(5, ':');
            let (Some(p), Some("iam"), Some(""), Some(a), Some(resource)) =
                (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
            else {
                return false;
            };
            p == partition && a == account && resource.starts_with("role/") && resource.rsplit('/').next() == Some(role)
        }
    }
}

/// The actor for someone acting from their own machine (`--here`, the CLI's direct kill switch), from the caller
/// STS names: the person's identity where the ARN tells one, else the ARN itself, which never counts as anyone
/// an approval could be compared with (see [`Actor::is_identified`]).
pub fn direct(user_arn: &str, person_roles: &[String]) -> Result<Actor, CallerRefused> {
    match person_of(user_arn, person_roles) {
        Ok(Actor::Person(id)) => Ok(Actor::Direct(id)),
        Err(CallerRefused::Root) => Err(CallerRefused::Root),
        _ => Ok(Actor::Direct(user_arn.to_owned())),
    }
}

/// IAM user, role and session names: 1 to 64 of `\w+=,.@-`.
fn is_name(name: &str) -> bool {
    (1..=64).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"_+=,.@-".contains(&b))
}

impl Actor {
    /// Whether this is a human Warden can tell apart from every other: a person, or someone acting directly whose
    /// caller named a person ([`direct`] keeps the raw ARN otherwise, and person identities never start `arn:`).
    /// Only a request from an identified human (or from automation) can be approved by someone else: one from an
    /// unidentified caller may be the approver themselves.
    pub fn is_identified(&self) -> bool {
        match self {
            Actor::Person(_) => true,
            Actor::Direct(name) => !name.starts_with("arn:"),
            Actor::Automation(_) => false,
        }
    }

    /// Whether two actors are the same human: a person acting through the URL and directly (`--here`) is one.
    pub fn same_human(&self, other: &Actor) -> bool {
        match (self, other) {
            (Actor::Person(a) | Actor::Direct(a), Actor::Person(b) | Actor::Direct(b)) => a == b,
            _ => self == other,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn person(id: &str) -> Actor {
        Actor::Person(id.into())
    }

    #[test]
    fn one_identity_per_human_whatever_the_route() {
        let roles = vec!["BreakGlassPerson".to_owned()];
        let of = |arn: &str| person_of(arn, &roles);
        assert_eq!(of("arn:aws:iam::111122223333:user/alice"), Ok(person("iam-user/111122223333/alice")));
        assert_eq!(of("arn:aws:iam::111122223333:user/ops/team/alice"), Ok(person("iam-user/111122223333/alice")));
        // The same Identity Center user under two permission sets, in two accounts: one person.
        let admin =
            of("arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/carol@example.com");
        let ops =
            of("arn:aws:sts::444455556666:assumed-role/AWSReservedSSO_Operator_fedcba9876543210/carol@example.com");
        assert_eq!(admin, Ok(person("sso/carol@example.com")));
        assert_eq!(admin, ops);
        // A listed role's session is named after the user who assumed it: the same person as that user.
        assert_eq!(
            of("arn:aws:sts::111122223333:assumed-role/BreakGlassPerson/alice"),
            of("arn:aws:iam::111122223333:user/alice")
        );
        let by_arn = person_of(
            "arn:aws:sts::111122223333:assumed-role/BreakGlassPerson/alice",
            &["arn:aws:iam::111122223333:role/BreakGlassPerson".to_owned()],
        );
        assert_eq!(by_arn, Ok(person("iam-user/111122223333/alice")));
    }

    #[test]
    fn a_session_name_the_caller_chose_never_names_a_person() {
        let roles = vec!["BreakGlassPerson".to_owned()];
        // Any role session can call itself "alice": it is automation under its role, never alice.
        let chosen = person_of("arn:aws:sts::111122223333:assumed-role/Deployer/alice", &roles).unwrap();
        assert_eq!(chosen, Actor::Automation("role/111122223333/Deployer/alice".into()));
        assert!(!chosen.is_human());
        // A listed role in another account is another role.
        let elsewhere = person_of("arn:aws:sts::999999999999:assumed-role/Other/alice", &roles).unwrap();
        assert!(!elsewhere.is_human());
        let federated = person_of("arn:aws:sts::111122223333:federated-user/alice", &roles).unwrap();
        assert!(!federated.is_human());
        // Roles that merely start like Identity Center's do not count as it (the prefix is the whole rule, and
        // IAM reserves it: CreateRole refuses names starting with AWSReservedSSO_).
        let lookalike = person_of("arn:aws:sts::111122223333:assumed-role/AWSReservedSSOx/alice", &roles).unwrap();
        assert!(!lookalike.is_human());
    }

    #[test]
    fn root_and_malformed_callers_are_refused_by_name() {
        assert_eq!(person_of("arn:aws:iam::111122223333:root", &[]), Err(CallerRefused::Root));
        for bad in [
            "",
            "alice",
            "arn:aws:iam::1111:user/alice",
            "arn:aws:iam::111122223333:user/",
            "arn:aws:iam::111122223333:group/admins",
            "arn:aws:sts::111122223333:assumed-role/Role",
            "arn:aws:sts::111122223333:assumed-role/Role/a/b",
            "arn:aws:sts::111122223333:assumed-role/Role/al ice",
            "arn:other:iam::111122223333:user/alice",
        ] {
            let refused = person_of(bad, &[]).unwrap_err();
            assert!(matches!(refused, CallerRefused::Unrecognised(_)), "{bad:?}: {refused}");
        }
        let long = format!("arn:aws:iam::111122223333:user/{}", "a".repeat(5000));
        let refused = person_of(&long, &[]).unwrap_err().to_string();
        assert!(refused.len() < 400, "the error quotes a bounded caller: {refused}");
    }

    #[test]
    fn person_roles_listed_by_arn_match_whatever_their_path_but_only_in_their_account() {
        let listed = vec!["arn:aws:iam::111122223333:role/ops/BreakGlassPerson".to_owned()];
        let session = "arn:aws:sts::111122223333:assumed-role/BreakGlassPerson/alice";
        assert_eq!(person_of(session, &listed), Ok(person("iam-user/111122223333/alice")));
        let elsewhere = person_of("arn:aws:sts::444455556666:assumed-role/BreakGlassPerson/alice", &listed);
        assert!(!elsewhere.unwrap().is_human());
    }

    #[test]
    fn acting_directly_names_the_person_where_the_caller_tells_one() {
        let sso = "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Ops_0123456789abcdef/alice";
        assert_eq!(direct(sso, &[]), Ok(Actor::Direct("sso/alice".into())));
        let role = "arn:aws:sts::111122223333:assumed-role/HereOperator/anything";
        let unidentified = direct(role, &[]).unwrap();
        assert_eq!(unidentified, Actor::Direct(role.into()));
        assert!(!unidentified.is_identified() && Actor::Direct("sso/alice".into()).is_identified());
        assert_eq!(direct("arn:aws:iam::111122223333:root", &[]), Err(CallerRefused::Root));
    }

    #[test]
    fn the_same_human_by_the_url_and_directly() {
        let alice = person("sso/alice");
        assert!(alice.same_human(&Actor::Direct("sso/alice".into())));
        assert!(!alice.same_human(&person("sso/bob")));
        assert!(!alice.same_human(&Actor::Automation("sso/alice".into())));
    }
}
