//! Where an AWS resource lives: an account and a region. Warden governs an organization from one central (home)
//! account, so the same endpoint name can exist in many accounts; correlation, and everything that acts, must
//! never confuse them.
//!
//! A model names its account and region, or neither: an unplaced model lives in the home account and region (so
//! inventory files written for one account keep working). A signal's place is where its resources are: the
//! envelope's account and region, or the finding's own for GuardDuty and Macie findings, which a delegated
//! administrator account receives about its members.

use serde::{Deserialize, Serialize};

/// An account and region, each possibly unknown.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Placement {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

impl Placement {
    pub fn new(account: Option<String>, region: Option<String>) -> Self {
        Self { account, region }
    }

    pub fn is_unknown(&self) -> bool {
        self.account.is_none() && self.region.is_none()
    }

    /// Each part this placement leaves open, taken from `home`: an unplaced model lives in the home account and
    /// region.
    #[must_use]
    pub fn or_home(&self, home: &Placement) -> Placement {
        Placement {
            account: self.account.clone().or_else(|| home.account.clone()),
            region: self.region.clone().or_else(|| home.region.clone()),
        }
    }

    /// Whether a resource placed at `other` can be the one placed here: every part both know is equal. A part
    /// either side does not know matches (a replay of events with no account, or no home configured, correlates
    /// by name alone, as Warden did for one account).
    pub fn admits(&self, other: &Placement) -> bool {
        fn agree(a: Option<&String>, b: Option<&String>) -> bool {
            a.zip(b).is_none_or(|(a, b)| a == b)
        }
        agree(self.account.as_ref(), other.account.as_ref()) && agree(self.region.as_ref(), other.region.as_ref())
    }
}

impl std::fmt::Display for Placement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let account = self.account.as_deref().unwrap_or("home account");
        let region = self.region.as_deref().unwrap_or("home region");
        write!(f, "{account}/{region}")
    }
}

impl Placement {
    /// `<account>/<region>`: how a placement is written into ledger keys (idempotency and alert keys).
    pub fn key(&self) -> String {
        format!("{}/{}", self.account.as_deref().unwrap_or(""), self.region.as_deref().unwrap_or(""))
    }
}

/// What an action on a SageMaker resource targets: its bare name at home (`place` unknown), else its ARN, so the
/// same name in two accounts is never one target.
pub fn target_at(place: &Placement, kind: &str, name: &str) -> String {
    if place.is_unknown() { name.to_owned() } else { sagemaker_arn(place, kind, name) }
}

/// An ARN's service, placement and resource (`arn:<partition>:<service>:<region>:<account>:<resource>`).
pub fn arn_parts(arn: &str) -> Option<(&str, Placement, &str)> {
    let mut parts = arn.strip_prefix("arn:")?.splitn(5, ':');
    let (_partition, service, region, account, resource) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let known = |part: &str| (!part.is_empty()).then(|| part.to_owned());
    Some((service, Placement::new(known(account), known(region)), resource))
}

/// The ARN Warden targets a SageMaker resource by when it runs at `place` (`kind`: `endpoint`,
/// `model-package-group`), in the partition of its region.
fn sagemaker_arn(place: &Placement, kind: &str, name: &str) -> String {
    let (region, account) = (place.region.as_deref().unwrap_or(""), place.account.as_deref().unwrap_or(""));
    let partition = if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    };
    format!("arn:{partition}:sagemaker:{region}:{account}:{kind}/{name}")
}

/// An AWS account id: exactly 12 digits.
pub fn is_account_id(text: &str) -> bool {
    text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit())
}

/// An AWS region name as AWS spells them (`us-east-1`, `eu-central-2`, `us-gov-west-1`): lower-case letters and
/// digits in dash-separated parts, ending in a number, at most 32 characters.
pub fn is_region(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    text.len() <= 32
        && parts.len() >= 3
        && parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
        && parts.last().is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()))
}

/// Why a placement read from an event or a file is refused, or `None` when both parts are well-formed.
pub fn placement_problem(account: Option<&str>, region: Option<&str>) -> Option<String> {
    // The value is quoted, cut to a few characters: it came from outside and goes into errors and records.
    let quoted = |text: &str| format!("{:?}", text.chars().take(40).collect::<String>());
    if let Some(account) = account.filter(|a| !is_account_id(a)) {
        return Some(format!("account {} is not a 12-digit AWS account id", quoted(account)));
    }
    if let Some(region) = region.filter(|r| !is_region(r)) {
        return Some(format!("region {} is not an AWS region name", quoted(region)));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(account: Option<&str>, region: Option<&str>) -> Placement {
        Placement::new(account.map(str::to_owned), region.map(str::to_owned))
    }

    #[test]
    fn known_parts_must_agree_and_unknown_parts_match() {
        let a = at(Some("111122223333"), Some("us-east-1"));
        assert!(a.admits(&a));
        assert!(!a.admits(&at(Some("444455556666"), Some("us-east-1"))));
        assert!(!a.admits(&at(Some("111122223333"), Some("eu-west-1"))));
        assert!(a.admits(&at(None, Some("us-east-1"))));
        assert!(a.admits(&Placement::default()));
        assert!(Placement::default().admits(&a));
    }

    #[test]
    fn targets_are_bare_names_at_home_and_arns_in_their_partition_elsewhere() {
        assert_eq!(target_at(&Placement::default(), "endpoint", "prod"), "prod");
        let member = at(Some("444455556666"), Some("us-east-1"));
        assert_eq!(target_at(&member, "endpoint", "prod"), "arn:aws:sagemaker:us-east-1:444455556666:endpoint/prod");
        let gov = at(Some("444455556666"), Some("us-gov-west-1"));
        assert!(target_at(&gov, "endpoint", "prod").starts_with("arn:aws-us-gov:sagemaker:us-gov-west-1:"));
        let arn = target_at(&member, "endpoint", "prod");
        let (service, place, resource) = arn_parts(&arn).unwrap_or_default();
        assert_eq!((service, place, resource), ("sagemaker", member, "endpoint/prod"));
        assert_eq!(
            arn_parts("arn:aws:sts::111122223333:assumed-role/r/s").map(|p| p.1),
            Some(at(Some("111122223333"), None))
        );
        assert!(arn_parts("prod").is_none());
    }

    #[test]
    fn an_unplaced_model_lives_at_home() {
        let home = at(Some("111122223333"), Some("us-east-1"));
        assert_eq!(Placement::default().or_home(&home), home);
        assert_eq!(at(Some("444455556666"), None).or_home(&home), at(Some("444455556666"), Some("us-east-1")));
    }

    #[test]
    fn accounts_and_regions_are_checked_as_aws_spells_them() {
        for good in ["us-east-1", "eu-central-2", "us-gov-west-1", "ap-southeast-5"] {
            assert!(is_region(good), "{good}");
        }
        for bad in ["", "us-east", "US-EAST-1", "us--1", "us-east-1 ", "us-east-1\n", &"a-".repeat(20)] {
            assert!(!is_region(bad), "{bad:?}");
        }
        assert!(is_account_id("111122223333"));
        for bad in ["11112222333", "1111222233334", "11112222333x", "", "١١١١٢٢٢٢٣٣٣٣"] {
            assert!(!is_account_id(bad), "{bad:?}");
        }
        assert!(placement_problem(Some("123"), None).unwrap().contains("12-digit"));
        assert!(placement_problem(None, Some("Mars")).unwrap().contains("region"));
        assert_eq!(placement_problem(Some("111122223333"), Some("us-east-1")), None);
    }
}
