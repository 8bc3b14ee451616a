//! Severity: GuardDuty's 0-10 scale, which every source maps onto, and the bands alerts are sent at.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Severity bands, shared by signals and alert levels. GuardDuty's bands: low 1-3.9, medium 4-6.9,
/// high 7-8.9, critical 9-10; below 1 is informational.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Band {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Band {
    pub const ALL: [Self; 5] = [Self::Info, Self::Low, Self::Medium, Self::High, Self::Critical];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Critical => "critical",
        }
    }
}

impl fmt::Display for Band {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Band {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|b| b.as_str() == text)
            .ok_or_else(|| format!("unknown level {text:?} (expected info, low, medium, high or critical)"))
    }
}

/// Severity on GuardDuty's 0-10 scale, which every source maps onto.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize, Deserialize)]
pub struct Severity(f64);

impl Severity {
    pub const INFO: Self = Self(0.0);
    pub const NOTICE: Self = Self(0.5);
    pub const LOW: Self = Self(2.0);
    pub const LOW_HIGH: Self = Self(3.0);
    pub const MEDIUM: Self = Self(5.0);
    pub const HIGH: Self = Self(7.0);
    pub const MACIE_HIGH: Self = Self(8.0);

    /// Clamps to 0-10; a non-number becomes medium rather than disappearing.
    pub fn new(score: f64) -> Self {
        if score.is_nan() { Self::MEDIUM } else { Self(score.clamp(0.0, 10.0)) }
    }

    pub fn score(self) -> f64 {
        self.0
    }

    pub fn band(self) -> Band {
        match self.0 {
            s if s >= 9.0 => Band::Critical,
            s if s >= 7.0 => Band::High,
            s if s >= 4.0 => Band::Medium,
            s if s >= 1.0 => Band::Low,
            _ => Band::Info,
        }
    }

    /// Macie's 1-3 scores: Low, Medium, High (decoding rejects any other score).
    pub fn from_macie(score: f64) -> Self {
        if score >= 3.0 {
            Self::MACIE_HIGH
        } else if score >= 2.0 {
            Self::MEDIUM
        } else {
            Self::LOW
        }
    }
}
