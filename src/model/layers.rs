//! The pieces the families assemble their blocks from: norms, MLPs, rotary position
//! embeddings. Each runs with candle's fused kernels for inference and with plain,
//! differentiable ops for passes that take gradients.

use candle_core::{D, DType, Device, Tensor};
use candle_nn::VarBuilder;

use crate::model::config::{Llama3Scaling, Rotary};
use crate::model::error::Result;
use crate::model::gelu;

/// LayerNorm (GPT-2, GPT-NeoX) or RMSNorm (Llama, Qwen2).
pub enum Norm {
    Layer {
        weight: Tensor,
        bias: Tensor,
        eps: f64,
    },
    Rms {
        weight: Tensor,
        eps: f64,
    },
}

impl Norm {
    pub fn layer(vb: &VarBuilder, d: usize, eps: f64) -> Result<Self> {
        Ok(Norm::Layer {
            weight: vb.get(d, "weight")?,
            bias: vb.get(d, "bias")?,
            eps,
        })
    }

    pub fn rms(vb: &VarBuilder, d: usize, eps: f64) -> Result<Self> {
        Ok(Norm::Rms {
            weight: vb.get(d, "weight")?,
            eps,
        })
    }

    /// Gemma's RMSNorm, which scales by (1 + weight).
    pub fn rms_plus_one(vb: &VarBuilder, d: usize, eps: f64) -> Result<Self> {
        Ok(Norm::Rms {
            weight: (vb.get(d, "weight")? + 1.0)?,
            eps,
        })
    }

    pub fn forward(&self, x: &Tensor, differentiable: bool) -> Result<Tensor> {
        match self {
            Norm::Layer { weight, bias, eps } => {
                if !differentiable {
                    let x = x.contiguous()?;
                    return Ok(candle_nn::ops::layer_norm(&x, weight, bias, *eps as f32)?);
                }
                let mean = x.mean_keepdim(D::Minus1)?;
                let centered = x.broadcast_sub(&mean)?;
                let variance = centered.sqr()?.mean_keepdim(D::Minus1)?;
                let normed = centered.broadcast_div(&(variance + *eps)?.sqrt()?)?;
                Ok(normed.broadcast_mul(weight)?.broadcast_add(bias)?)
            }
            Norm::Rms { weight, eps } => {
                if !differentiable {
                    let x = x.contiguous()?;
                    return Ok(candle_nn::ops::rms_norm(&x, weight, *eps as f32)?);
                }
                Ok(candle_nn::ops::rms_norm_slow(x, weight, *eps as f32)?)
            }
        }
    }

    /// The vector-Jacobian product of the norm at `x`: ∂(g · norm(x))/∂x for an upstream
    /// gradient `g` (any leading dimensions broadcast against `x`'s, last one d). With
    /// u = g ⊙ w and n̂ the normalised x: LayerNorm (u − mean u − n̂·mean(u ⊙ n̂)) / σ,
    /// RMSNorm (u − n̂·mean(u ⊙ n̂)) / rms. Lets one pass give the gradient of every
    /// receiver reading the same stream through its own copy of the norm.
    pub fn input_gradient(&self, x: &Tensor, upstream: &Tensor) -> Result<Tensor> {
        let (weight, centered, eps) = match self {
            Norm::Layer { weight, eps, .. } => {
                (weight, x.broadcast_sub(&x.mean_keepdim(D::Minus1)?)?, eps)
            }
            Norm::Rms { weight, eps } => (weight, x.clone(), eps),
        };
        let scale = (centered.sqr()?.mean_keepdim(D::Minus1)? + *eps)?.sqrt()?;
        let normed = centered.broadcast_div(&scale)?;
        let u = upstream.broadcast_mul(weight)?;
        let along = u.broadcast_mul(&normed)?.mean_keepdim(D::Minus1)?;
        let mut out = u.broadcast_sub(&normed.broadcast_mul(&along)?)?;
        if let Norm::Layer { .. } = self {
            out = out.broadcast_sub(&u.mean_keepdim(D::Minus1)?)?;
        }
        Ok(out.broadcast_div(&scale)?)
    }
}

/// The activation between an MLP's matrices.
#[derive(Clone, Copy)]
pub enum Activation {
    /// GPT-2's `gelu_new`.
    GeluTanh,
    /// GPT-NeoX's exact `gelu`.
    GeluErf,
    /// Llama's and Qwen2's gate.
    Silu,
}

impl Activation {
    fn forward(self, x: &Tensor, differentiable: bool) -> Result<Tensor> {
        Ok(match self {
            Activation::GeluTanh => gelu::gelu(x, differentiable)?,
            Activation::GeluErf => x.gelu_erf()?,
            Activation::Silu => candle_nn::ops::silu(x)?,
        })
    }
}

/// An MLP: two matrices around an activation (GPT-2, GPT-NeoX), or gated (SwiGLU in Llama
/// and Qwen2, GeGLU in Gemma-2).
/// Weights are input-major, `[in, out]`.
pub enum Mlp {
    Plain {
        fc_w: Tensor,
        fc_b: Tensor,
        proj_w: Tensor,
        proj_b: Tensor,
        activation: Activation,
    },
    Gated {
        gate_w: Tensor,
        up_w: Tensor,
        down_w: Tensor,
        activation: Activation,
    },
}

impl Mlp {
    /// `[rows, seq, d]` → `[rows, seq, d]`.
    pub fn forward(&self, x: &Tensor, differentiable: bool) -> Result<Tensor> {
        let (rows, seq, d) = x.dims3()?;
        let x = x.reshape((rows * seq, d))?;
        let out = match self {
            Mlp::Plain {
                fc_w,
                fc_b,
                proj_w,
                proj_b,
                activation,
            } => {
                let h = x.matmul(fc_w)?.broadcast_add(fc_b)?;
                let h = activation.forward(&h, differentiable)?;
                h.matmul(proj_w)?.broadcast_add(proj_b)?
            }
            Mlp::Gated {
                gate_w,
                up_w,
                down_w,
                activation,
            } => {
                let gate = activation.forward(&x.matmul(gate_w)?, differentiable)?;
                (gate * x.matmul(up_w)?)?.matmul(down_w)?
            }
        };
        Ok(out.reshape((rows, seq, d))?)
    }
}

/// A `Linear` weight (`[out, in]`, as PyTorch stores it) turned input-major, `[in, out]`.
pub fn input_major(vb: &VarBuilder, out: usize, inp: usize, name: &str) -> Result<Tensor> {
    Ok(vb.get((out, inp), name)?.t()?.contiguous()?)
}

/// The rotation angles of each position, `cos` and `sin`: `[rows, seq, dims / 2]`, for
/// `positions[r][i]` the position of column i of row r.
pub struct Angles {
    cos: Tensor,
    sin: Tensor,
    dims: usize,
}

impl Angles {
    pub fn new(rotary: &Rotary, positions: &[Vec<usize>], device: &Device) -> Result<Self> {
        let frequencies = frequencies(rotary);
        let (rows, seq) = (positions.len(), positions.first().map_or(0, Vec::len));
        let mut cos = Vec::with_capacity(rows * seq * frequencies.len());
        let mut sin = Vec::with_capacity(cos.capacity());
        for position in positions.iter().flatten() {
            for frequency in &frequencies {
                let angle = *position as f64 * frequency;
                cos.push(angle.cos() as f32);
                sin.push(angle.sin() as f32);
            }
        }
        let shape = (rows, seq, frequencies.len());
        Ok(Self {
            cos: Tensor::from_vec(cos, shape, device)?,
            sin: Tensor::from_vec(sin, shape, device)?,
            dims: rotary.dims,
        })
    }

    /// Rotates the first `dims` dimensions of every head of `x`, `[rows, seq, heads, d_head]`,
    /// the first half of them against the second ("rotate half", as GPT-NeoX and Llama do).
    pub fn apply(&self, x: &Tensor, differentiable: bool) -> Result<Tensor> {
        let d_head = x.dim(D::Minus1)?;
        if self.dims == 0 {
            return Ok(x.clone());
        }
        let rotated = x.narrow(D::Minus1, 0, self.dims)?.contiguous()?;
        let rotated = if differentiable {
            let half = self.dims / 2;
            let (a, b) = (
                rotated.narrow(D::Minus1, 0, half)?,
                rotated.narrow(D::Minus1, half, half)?,
            );
            let cos = self.cos.unsqueeze(2)?;
            let sin = self.sin.unsqueeze(2)?;
            let first = (a.broadcast_mul(&cos)? - b.broadcast_mul(&sin)?)?;
            let second = (b.broadcast_mul(&cos)? + a.broadcast_mul(&sin)?)?;
            Tensor::cat(&[first, second], D::Minus1)?
        } else {
            candle_nn::rotary_emb::rope_thd(&rotated, &self.cos, &self.sin)?
        };
        if self.dims == d_head {
            return Ok(rotated);
        }
        let kept = x.narrow(D::Minus1, self.dims, d_head - self.dims)?;
        Ok(Tensor::cat(&[rotated, kept], D::Minus1)?)
    }
}

/// θ_i = base^(−2i/dims), with Llama-3's scaling where the config has it.
fn frequencies(rotary: &Rotary) -> Vec<f64> {
    (0..rotary.dims / 2)
        .map(|i| {
            let frequency = rotary.base.powf(-2.0 * i as f64 / rotary.dims as f64);
            match &rotary.scaling {
                Some(scaling) => llama3_scaled(frequency, scaling),
                None => frequency,
            }
        })
        .collect()
}

/// Llama-3's rescaling of one frequency: wavelengths longer than the original context over
/// `low_freq_factor` are slowed by `factor`, those shorter than it over `high_freq_factor`
/// kept, and those between interpolated.
fn llama3_scaled(frequency: f64, s: &Llama3Scaling) -> f64 {
    let wavelength = 2.0 * std::f64::consts::PI / frequency;
    let low_wavelength = s.original_max_position_embeddings / s.low_freq_factor;
    let high_wavelength = s.original_max_position_embeddings / s.high_freq_factor;
    if wavelength < high_wavelength {
        frequency
    } else if wavelength > low_wavelength {
        frequency / s.factor
    } else {
        let smooth = (s.original_max_position_embeddings / wavelength - s.low_freq_factor)
            / (s.high_freq_factor - s.low_freq_factor);
        (1.0 - smooth) * frequency / s.factor + smooth * frequency
    }
}

/// Zeros standing for a bias a family does not have.
pub fn no_bias(n: usize, device: &Device) -> Result<Tensor> {
    Ok(Tensor::zeros(n, DType::F32, device)?)
}
