//! Labs (model authors): one per id prefix. The display name comes from how the API names
//! the lab's models ("Mistral: Devstral Small" -> "Mistral"); a small curated table adds
//! what the API does not say (website, founding year, headquarters).

use foldhash::HashMap;
use serde::Serialize;

pub struct Curated {
    pub id: &'static str,
    pub name: &'static str,
    pub website: &'static str,
    pub founded: u16,
    pub headquarters: &'static str,
}

/// Facts about the major labs that the API does not carry. Only well-established facts.
pub const CURATED: &[Curated] = &[
    Curated {
        id: "openai",
        name: "OpenAI",
        website: "https://openai.com",
        founded: 2015,
        headquarters: "San Francisco, US",
    },
    Curated {
        id: "anthropic",
        name: "Anthropic",
        website: "https://www.anthropic.com",
        founded: 2021,
        headquarters: "San Francisco, US",
    },
    Curated {
        id: "google",
        name: "Google",
        website: "https://deepmind.google",
        founded: 1998,
        headquarters: "Mountain View, US",
    },
    Curated {
        id: "meta-llama",
        name: "Meta",
        website: "https://ai.meta.com",
        founded: 2004,
        headquarters: "Menlo Park, US",
    },
    Curated {
        id: "mistralai",
        name: "Mistral",
        website: "https://mistral.ai",
        founded: 2023,
        headquarters: "Paris, France",
    },
    Curated {
        id: "deepseek",
        name: "DeepSeek",
        website: "https://www.deepseek.com",
        founded: 2023,
        headquarters: "Hangzhou, China",
    },
    Curated {
        id: "qwen",
        name: "Qwen",
        website: "https://qwenlm.github.io",
        founded: 2023,
        headquarters: "Hangzhou, China",
    },
    Curated {
        id: "x-ai",
        name: "xAI",
        website: "https://x.ai",
        founded: 2023,
        headquarters: "Palo Alto, US",
    },
    Curated {
        id: "cohere",
        name: "Cohere",
        website: "https://cohere.com",
        founded: 2019,
        headquarters: "Toronto, Canada",
    },
    Curated {
        id: "microsoft",
        name: "Microsoft",
        website: "https://www.microsoft.com/ai",
        founded: 1975,
        headquarters: "Redmond, US",
    },
    Curated {
        id: "nvidia",
        name: "NVIDIA",
        website: "https://www.nvidia.com",
        founded: 1993,
        headquarters: "Santa Clara, US",
    },
    Curated {
        id: "amazon",
        name: "Amazon",
        website: "https://aws.amazon.com/ai",
        founded: 1994,
        headquarters: "Seattle, US",
    },
    Curated {
        id: "perplexity",
        name: "Perplexity",
        website: "https://www.perplexity.ai",
        founded: 2022,
        headquarters: "San Francisco, US",
    },
    Curated {
        id: "ai21",
        name: "AI21 Labs",
        website: "https://www.ai21.com",
        founded: 2017,
        headquarters: "Tel Aviv, Israel",
    },
    Curated {
        id: "moonshotai",
        name: "MoonshotAI",
        website: "https://www.moonshot.ai",
        founded: 2023,
        headquarters: "Beijing, China",
    },
    Curated {
        id: "openrouter",
        name: "OpenRouter",
        website: "https://openrouter.ai",
        founded: 2023,
        headquarters: "New York, US",
    },
];

pub fn curated(id: &str) -> Option<&'static Curated> {
    CURATED.iter().find(|c| c.id == id)
}

/// The lab prefix of a model name: "Mistral: Devstral Small" -> "Mistral".
pub fn name_prefix(model_name: &str) -> Option<&str> {
    let (prefix, rest) = model_name.split_once(": ")?;
    let prefix = prefix.trim();
    (!prefix.is_empty() && !rest.trim().is_empty() && prefix.chars().count() <= 64)
        .then_some(prefix)
}

/// Collects what the models say about their lab while they are mapped.
#[derive(Default)]
pub struct LabAccumulator {
    pub models: Vec<String>,
    /// name prefix -> (times seen, first position), to pick the most common, earliest on ties.
    names: HashMap<String, (usize, usize)>,
}

impl LabAccumulator {
    pub fn add(&mut self, model_id: &str, model_name: Option<&str>) {
        if let Some(prefix) = model_name.and_then(name_prefix) {
            match self.names.get_mut(prefix) {
                Some(seen) => seen.0 += 1,
                None => {
                    let order = self.names.len();
                    self.names.insert(prefix.to_string(), (1, order));
                }
            }
        }
        self.models.push(model_id.to_string());
    }

    pub fn display_name(&self, lab_id: &str) -> String {
        let from_models = self
            .names
            .iter()
            .max_by(|a, b| a.1 .0.cmp(&b.1 .0).then(b.1 .1.cmp(&a.1 .1)))
            .map(|(name, _)| name.clone());
        from_models
            .or_else(|| curated(lab_id).map(|c| c.name.to_string()))
            .unwrap_or_else(|| {
                let mut c = lab_id.chars();
                c.next()
                    .map(|f| f.to_uppercase().chain(c).collect())
                    .unwrap_or_default()
            })
    }
}

/// The seed's `metadata` of a model or lab document.
#[derive(Serialize, Clone, Copy)]
pub struct Metadata {
    pub ns: &'static str,
    pub visibility: &'static str,
}

#[derive(Serialize)]
pub struct LabData<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub description: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub website: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub founded: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub headquarters: Option<&'static str>,
    pub models: &'a [String],
    pub model_count: usize,
    pub deprecated: bool,
    pub metadata: Metadata,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_come_from_model_names() {
        let mut lab = LabAccumulator::default();
        lab.add("mistralai/devstral-small", Some("Mistral: Devstral Small"));
        lab.add("mistralai/mistral-large", Some("Mistral: Mistral Large"));
        lab.add("mistralai/odd", Some("MistralAI: Odd"));
        assert_eq!(lab.display_name("mistralai"), "Mistral");

        let mut xai = LabAccumulator::default();
        xai.add("x-ai/grok-4.3", Some("xAI: Grok 4.3"));
        assert_eq!(xai.display_name("x-ai"), "xAI");

        let mut bare = LabAccumulator::default();
        bare.add("someone/model", Some("No Prefix Here"));
        assert_eq!(bare.display_name("someone"), "Someone");
        assert_eq!(LabAccumulator::default().display_name("openai"), "OpenAI");
    }

    #[test]
    fn prefixes() {
        assert_eq!(name_prefix("xAI: Grok 4.3"), Some("xAI"));
        assert_eq!(name_prefix("Auto Router"), None);
        assert_eq!(name_prefix(": empty"), None);
    }
}
