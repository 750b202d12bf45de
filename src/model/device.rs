//! Where tensors live: the CPU, or a GPU when circuitcheck is built with the `cuda` or
//! `metal` feature and one is present.

use candle_core::Device;

use crate::model::error::{ModelError, Result};

/// Which device to run on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DeviceChoice {
    /// A GPU when built for one and one is present, else the CPU.
    #[default]
    Auto,
    Cpu,
    Cuda,
    Metal,
}

impl DeviceChoice {
    pub fn open(self) -> Result<Device> {
        match self {
            DeviceChoice::Cpu => Ok(Device::Cpu),
            DeviceChoice::Cuda => gpu("cuda", cfg!(feature = "cuda"), || Device::new_cuda(0)),
            DeviceChoice::Metal => gpu("metal", cfg!(feature = "metal"), || Device::new_metal(0)),
            DeviceChoice::Auto => {
                let found = [
                    (cfg!(feature = "cuda"), Device::new_cuda as fn(usize) -> _),
                    (cfg!(feature = "metal"), Device::new_metal),
                ]
                .into_iter()
                .filter(|(built, _)| *built)
                .find_map(|(_, open)| open(0).ok());
                Ok(found.unwrap_or(Device::Cpu))
            }
        }
    }
}

/// The GPU asked for, or why there is none.
fn gpu(
    name: &str,
    built: bool,
    open: impl FnOnce() -> candle_core::Result<Device>,
) -> Result<Device> {
    if !built {
        return Err(ModelError::Device(format!(
            "this circuitcheck was built without {name} support; rebuild it with \
             `cargo install --features {name}`, or use --device cpu"
        )));
    }
    open().map_err(|e| {
        ModelError::Device(format!(
            "no {name} device could be opened: {e}; use --device cpu"
        ))
    })
}

/// How reports and messages name a device.
pub fn describe(device: &Device) -> &'static str {
    if device.is_cuda() {
        "cuda"
    } else if device.is_metal() {
        "metal"
    } else {
        "cpu"
    }
}
