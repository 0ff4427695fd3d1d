//! Devices: `cpu` or `cuda[:N]`.
//!
//! libtorch registers its CUDA backend only when `libtorch_cuda.so` is loaded. A binary linked
//! against the PyPI wheel keeps only `libtorch_cpu.so` and `libc10.so` (the linker drops the
//! unused CUDA library), so [`init_cuda`] `dlopen`s `libtorch_cuda.so` from the folder
//! `libtorch_cpu.so` was loaded from (or `$MSLAB_LIBTORCH_CUDA`) before any CUDA call. One
//! binary then runs on CPU-only machines and on GPU machines. CUDA requested but unavailable is
//! an error, never a silent fall-back to CPU.

use std::ffi::{CStr, CString};
use std::os::raw::{c_char, c_int, c_void};

use serde::Serialize;
use tch::Device;

use crate::error::{Error, Result};

const RTLD_NOW: c_int = 2;
const RTLD_GLOBAL: c_int = 0x100;

extern "C" {
    fn dlopen(filename: *const c_char, flag: c_int) -> *mut c_void;
    fn dlerror() -> *const c_char;
}

/// A parsed `--device` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum DeviceSpec {
    /// The CPU.
    Cpu,
    /// CUDA device N.
    Cuda(usize),
}

impl DeviceSpec {
    /// Parse `cpu`, `cuda` or `cuda:N`.
    pub fn parse(s: &str) -> Result<Self> {
        let bad = || Error::invalid("device", s, "cpu, cuda or cuda:N");
        match s {
            "cpu" => Ok(DeviceSpec::Cpu),
            "cuda" => Ok(DeviceSpec::Cuda(0)),
            _ => {
                let n = s.strip_prefix("cuda:").ok_or_else(bad)?;
                n.parse::<usize>().map(DeviceSpec::Cuda).map_err(|_| bad())
            }
        }
    }

    /// The tch device, after checking that it exists. CUDA: loads `libtorch_cuda.so` first and
    /// fails loudly when CUDA or device N is not there.
    pub fn open(self) -> Result<Device> {
        match self {
            DeviceSpec::Cpu => Ok(Device::Cpu),
            DeviceSpec::Cuda(n) => {
                let loaded = init_cuda();
                if !tch::Cuda::is_available() {
                    let why = match loaded {
                        Err(e) => format!("libtorch_cuda.so could not be loaded ({e})"),
                        Ok(p) => format!("{p} loaded but libtorch sees no CUDA device"),
                    };
                    return Err(Error::invalid(
                        "device",
                        format!("cuda:{n}"),
                        format!("an available CUDA device; CUDA is not available: {why}"),
                    ));
                }
                let count = tch::Cuda::device_count();
                if n as i64 >= count {
                    return Err(Error::invalid(
                        "device",
                        format!("cuda:{n}"),
                        format!("cuda:0 … cuda:{} ({count} devices)", count - 1),
                    ));
                }
                Ok(Device::Cuda(n))
            }
        }
    }
}

impl std::fmt::Display for DeviceSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeviceSpec::Cpu => f.write_str("cpu"),
            DeviceSpec::Cuda(n) => write!(f, "cuda:{n}"),
        }
    }
}

/// The folder `libtorch_cpu.so` was loaded from, read from /proc/self/maps.
fn libtorch_dir() -> Option<String> {
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    maps.lines().find_map(|l| {
        let path = l.split_whitespace().nth(5)?;
        path.strip_suffix("/libtorch_cpu.so").map(|d| d.to_string())
    })
}

/// Load `libtorch_cuda.so` (global symbols) so that libtorch registers CUDA. Returns the path
/// loaded. Idempotent (dlopen of a loaded library is a no-op).
pub fn init_cuda() -> Result<String> {
    let path = match std::env::var("MSLAB_LIBTORCH_CUDA") {
        Ok(p) if !p.is_empty() => p,
        _ => {
            // libtorch_cpu.so is mapped at start-up (a DT_NEEDED library). No libtorch call may
            // come before the dlopen: libtorch caches its CUDA hooks on the first query.
            match libtorch_dir() {
                Some(d) => format!("{d}/libtorch_cuda.so"),
                None => "libtorch_cuda.so".to_string(),
            }
        }
    };
    let c = CString::new(path.clone())
        .map_err(|_| Error::invalid("MSLAB_LIBTORCH_CUDA", &path, "a path without NUL bytes"))?;
    // SAFETY: dlopen with a valid NUL-terminated path; dlerror returns a static C string or null.
    let handle = unsafe { dlopen(c.as_ptr(), RTLD_NOW | RTLD_GLOBAL) };
    if handle.is_null() {
        // SAFETY: see above.
        let msg = unsafe {
            let e = dlerror();
            if e.is_null() {
                "unknown dlopen error".to_string()
            } else {
                CStr::from_ptr(e).to_string_lossy().into_owned()
            }
        };
        return Err(Error::File {
            path,
            message: format!("dlopen failed: {msg}"),
        });
    }
    Ok(path)
}

/// What a results file records about the device and libtorch.
#[derive(Debug, Clone, Serialize)]
pub struct DeviceInfo {
    /// `cpu` or `cuda:N`.
    pub device: String,
    /// Human-readable name (CPU model or GPU name).
    pub name: String,
    /// CUDA runtime version libtorch reports (None on CPU).
    pub cuda_runtime: Option<String>,
    /// cuDNN version (None on CPU).
    pub cudnn: Option<String>,
    /// libtorch version.
    pub libtorch: String,
}

impl DeviceInfo {
    /// Describe `spec` (after [`DeviceSpec::open`] succeeded).
    pub fn collect(spec: DeviceSpec) -> Self {
        let libtorch = format!("{} (tch 0.24.0)", super::LIBTORCH_VERSION);
        match spec {
            DeviceSpec::Cpu => DeviceInfo {
                device: "cpu".into(),
                name: crate::output::Provenance::collect().device,
                cuda_runtime: None,
                cudnn: None,
                libtorch,
            },
            DeviceSpec::Cuda(n) => {
                let v = tch::utils::version_cudart();
                let cudnn = tch::utils::version_cudnn();
                DeviceInfo {
                    device: format!("cuda:{n}"),
                    name: gpu_name(n).unwrap_or_else(|| "unknown GPU".into()),
                    cuda_runtime: Some(format!("{}.{}", v / 1000, (v % 1000) / 10)),
                    cudnn: (cudnn > 0).then(|| cudnn.to_string()),
                    libtorch,
                }
            }
        }
    }
}

/// GPU name from nvidia-smi, else from /proc/driver/nvidia.
fn gpu_name(n: usize) -> Option<String> {
    let out = std::process::Command::new("nvidia-smi")
        .args([
            "--query-gpu=name",
            "--format=csv,noheader",
            "-i",
            &n.to_string(),
        ])
        .output()
        .ok();
    if let Some(o) = out.filter(|o| o.status.success()) {
        let s = String::from_utf8_lossy(&o.stdout).trim().to_string();
        if !s.is_empty() {
            return Some(s);
        }
    }
    let mut dirs: Vec<_> = std::fs::read_dir("/proc/driver/nvidia/gpus")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    dirs.sort();
    let info = std::fs::read_to_string(dirs.get(n)?.join("information")).ok()?;
    info.lines()
        .find(|l| l.starts_with("Model:"))
        .map(|l| l.trim_start_matches("Model:").trim().to_string())
}
