//! The sentence embedder: candle-transformers' `BertModel` built from a tensorcbor bundle, then mean pooling
//! and L2 normalization as sentence-transformers' all-MiniLM-L6-v2 pipeline does (Pooling(mean) + Normalize).
//!
//! The architecture is read from the tensors (vocabulary, width, depth, intermediate size, positions, token
//! types); the two numbers the weights do not show, attention heads and the layer-norm epsilon, come from the
//! install argument (config.json's `num_attention_heads` and `layer_norm_eps`).
//!
//! The weights are taken one decoded tensor at a time ([`Weights::add`], fed by the windowed decode of the
//! stored document), so the document is never in the heap whole: only the tensors `BertModel` reads are kept.

use candle_core::{DType, Device, Tensor};
use candle_transformers::models::bert::{BertModel, Config, HiddenAct, PositionEmbeddingType};
use std::collections::HashMap;
use tensorcbor::{encode_tensor, TensorView};

/// The loaded model and the sizes `embed` checks its input against.
pub struct Embedder {
    model: BertModel,
    pub config: Config,
}

/// Why a bundle is not a BERT model this canister can run.
fn bad(msg: String) -> String {
    format!("the bundle is not a BERT model: {msg}")
}

/// The weights `BertModel` reads, as candle tensors by name.
#[derive(Default)]
pub struct Weights(HashMap<String, Tensor>);

impl Weights {
    /// Keep `tensor` (one copy into candle's storage) if `BertModel` reads it: its embeddings and encoder,
    /// with or without the `bert.` prefix HF's task models add (a checkpoint's pooler, heads and buffers
    /// are dropped as they arrive).
    pub fn add(&mut self, name: &str, tensor: &TensorView<'_>) -> Result<(), String> {
        let bare = name.strip_prefix("bert.").unwrap_or(name);
        if bare.starts_with("embeddings.") || bare.starts_with("encoder.") {
            let t = tensorcbor::candle::tensor(name, tensor, &Device::Cpu)
                .map_err(|e| bad(e.to_string()))?;
            self.0.insert(name.to_owned(), t);
        }
        Ok(())
    }

    /// The shape of `name`, with or without the `bert.` prefix.
    fn shape_of(&self, name: &str) -> Result<&[usize], String> {
        self.0
            .get(name)
            .or_else(|| self.0.get(&format!("bert.{name}")))
            .map(|t| t.dims())
            .ok_or_else(|| bad(format!("no tensor {name:?}")))
    }

    fn dims<const N: usize>(&self, name: &str) -> Result<[usize; N], String> {
        let s = self.shape_of(name)?;
        s.try_into()
            .map_err(|_| bad(format!("{name:?} has shape {s:?}, expected rank {N}")))
    }
}

/// A candle BERT config from the tensors' shapes plus the two given numbers.
pub fn infer_config(b: &Weights, heads: u32, layer_norm_eps: f64) -> Result<Config, String> {
    let [vocab_size, hidden_size] = b.dims::<2>("embeddings.word_embeddings.weight")?;
    let [max_position_embeddings, _] = b.dims::<2>("embeddings.position_embeddings.weight")?;
    let [type_vocab_size, _] = b.dims::<2>("embeddings.token_type_embeddings.weight")?;
    let [intermediate_size, _] = b.dims::<2>("encoder.layer.0.intermediate.dense.weight")?;
    let layers = (0..)
        .take_while(|i| {
            b.shape_of(&format!("encoder.layer.{i}.attention.self.query.weight"))
                .is_ok()
        })
        .count();
    let heads = heads as usize;
    if heads == 0 || hidden_size % heads != 0 {
        return Err(bad(format!(
            "{heads} attention heads do not divide the hidden size {hidden_size}"
        )));
    }
    Ok(Config {
        vocab_size,
        hidden_size,
        num_hidden_layers: layers,
        num_attention_heads: heads,
        intermediate_size,
        hidden_act: HiddenAct::Gelu,
        hidden_dropout_prob: 0.0,
        max_position_embeddings,
        type_vocab_size,
        initializer_range: 0.02,
        layer_norm_eps,
        pad_token_id: 0,
        position_embedding_type: PositionEmbeddingType::Absolute,
        use_cache: false,
        classifier_dropout: None,
        model_type: Some("bert".into()),
    })
}

impl Embedder {
    /// Build the model from its weights (candle shares their storage: no further copy).
    pub fn load(weights: Weights, heads: u32, layer_norm_eps: f64) -> Result<Self, String> {
        let config = infer_config(&weights, heads, layer_norm_eps)?;
        let vb = candle_nn::VarBuilder::from_tensors(weights.0, DType::F32, &Device::Cpu);
        let model = BertModel::load(vb, &config).map_err(|e| bad(e.to_string()))?;
        Ok(Embedder { model, config })
    }

    /// Check token ids against the model's vocabulary and positions.
    pub fn check(&self, ids: &[u32]) -> Result<(), String> {
        let max = self.config.max_position_embeddings;
        if ids.is_empty() || ids.len() > max {
            return Err(format!(
                "{} token ids; this model takes 1 to {max}",
                ids.len()
            ));
        }
        if let Some((i, id)) = ids
            .iter()
            .enumerate()
            .find(|(_, &id)| id as usize >= self.config.vocab_size)
        {
            return Err(format!(
                "token {i} is id {id}, past the vocabulary of {}",
                self.config.vocab_size
            ));
        }
        Ok(())
    }

    /// The sentence embedding of `ids` (checked by [`Embedder::check`]): mean of the last hidden states over the
    /// tokens, divided by its L2 norm (at least 1e-12, as torch's `F.normalize`), float32.
    pub fn embed(&self, ids: &[u32]) -> Result<Vec<f32>, String> {
        let run = || -> candle_core::Result<Vec<f32>> {
            let input = Tensor::new(ids, &Device::Cpu)?.unsqueeze(0)?;
            let types = input.zeros_like()?;
            let hidden = self.model.forward(&input, &types, None)?; // [1, n, h]
            let mean = hidden.mean(1)?; // [1, h]
            let norm = mean.sqr()?.sum_keepdim(1)?.sqrt()?.maximum(1e-12)?;
            mean.broadcast_div(&norm)?.squeeze(0)?.to_vec1::<f32>()
        };
        run().map_err(|e| format!("the forward pass failed: {e}"))
    }
}

/// `v` as a tensorcbor float32 `[len]` document.
pub fn to_document(v: &[f32]) -> Vec<u8> {
    let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    encode_tensor(tensorcbor::DType::Float32, &[v.len() as u64], &bytes)
        .expect("a float32 vector always has an encoding")
}
