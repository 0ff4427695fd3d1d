//! Landscape files (`landscapes/*.toml`): parsing and validation.
//!
//! ```toml
//! name = "quadratic-4d"
//! kind = "quadratic"
//! dim = 4
//! [params]
//! eigenvalues = [1.0, 2.0, 4.0, 8.0]
//! [noise]
//! law = "gaussian"
//! sigma = 1.0            # per-sample, per-coordinate std
//! [init]
//! low = -0.1             # x_0 ~ U([low, high]^d)
//! high = 0.1
//! ```
//!
//! Every error names the field, the value and what is allowed; unknown keys are errors (a typo
//! must not silently fall back to a default).

use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::landscape::{
    Ackley, DropWave, Griewank, Landscape, Levy, MultiWell, Quadratic, Rastrigin, Rosenbrock,
    StyblinskiTang, TeacherStudent,
};
use crate::linalg::random_orthogonal;
use crate::noise::NoiseLaw;
use crate::runner::{InitBox, Problem};

/// Landscape kinds and their parameters (for `--help` and error messages).
pub const KINDS: [(&str, &str); 10] = [
    ("quadratic", "eigenvalues = [λ_1..λ_d] (required), rotation_seed = N, radius = 10"),
    ("rastrigin", "amplitude = 10"),
    ("ackley", "(none)"),
    ("styblinski_tang", "(none)"),
    ("levy", "(none)"),
    ("griewank", "(none)"),
    ("rosenbrock", "(none; dim >= 2)"),
    ("drop_wave", "(none; dim = 2)"),
    ("multi_well", "depth = 1, tilt = 0.3"),
    (
        "teacher_student",
        "input_dim, hidden (dim = hidden*(input_dim+1)), n_samples, label_noise = 0.1, data_seed = 0",
    ),
];

/// Noise laws and their keys.
pub const LAWS: [(&str, &str); 5] = [
    (
        "gaussian",
        "sigma; anisotropic with variances = [..] or power_law = α, rotation_seed = N",
    ),
    ("anisotropic", "alias of gaussian with variances/power_law"),
    ("student_t", "sigma, dof > 2"),
    ("multiplicative", "sigma, alpha: C²(x) = dσ² + α²‖∇f(x)‖²"),
    ("finite_sum", "(none; teacher_student only)"),
];

/// The largest dimension a landscape file may ask for (memory is O(seeds × d) per thread).
pub const MAX_DIM: usize = 10_000_000;

/// The largest dimension for which a rotation (d² numbers) may be asked.
pub const MAX_ROTATED_DIM: usize = 4096;

/// A landscape file as written.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LandscapeFile {
    /// Display name.
    pub name: String,
    /// Landscape kind (see [`KINDS`]).
    pub kind: String,
    /// Dimension d.
    pub dim: usize,
    /// Optional free-text description.
    #[serde(default)]
    pub description: Option<String>,
    /// Kind-specific parameters.
    #[serde(default)]
    pub params: toml::Table,
    /// The noise law.
    pub noise: toml::Table,
    /// The initial box; defaults to the landscape's domain.
    #[serde(default)]
    pub init: Option<InitSpec>,
}

/// `[init]`.
#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct InitSpec {
    /// Lower end.
    pub low: f64,
    /// Upper end.
    pub high: f64,
}

impl LandscapeFile {
    /// Read and parse a file (no validation beyond the TOML schema).
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::File {
            path: path.display().to_string(),
            message: format!("cannot read (expected a readable UTF-8 landscape TOML file): {e}"),
        })?;
        Self::parse(&text).map_err(|e| match e {
            Error::File { message, .. } => Error::File {
                path: path.display().to_string(),
                message,
            },
            other => other,
        })
    }

    /// Parse TOML text.
    pub fn parse(text: &str) -> Result<Self> {
        let syntax = |e: &dyn std::fmt::Display| {
            Error::File {
            path: "<landscape>".into(),
            message: format!(
                "not a valid landscape file (expected TOML with name, kind, dim, [params], [noise], [init]): {}",
                one_line(&e.to_string())
            ),
        }
        };
        let table: toml::Table = toml::from_str(text).map_err(|e| syntax(&e))?;
        check_top_level(&table)?;
        toml::Value::Table(table).try_into().map_err(|e| syntax(&e))
    }

    /// Bytes that building this landscape allocates, estimated from the file alone: a few
    /// d-vectors, the stored data of a finite sum (n_samples × (input_dim + 1) numbers) and
    /// any d × d rotation (with the workspace of its QR factorisation).
    pub fn memory_estimate(&self) -> u128 {
        let f = std::mem::size_of::<f64>() as u128;
        let d = self.dim as u128;
        let int = |t: &toml::Table, k: &str| {
            t.get(k)
                .and_then(toml::Value::as_integer)
                .map_or(0, |v| v.max(0) as u128)
        };
        let mut bytes = 8 * d * f;
        if self.params.contains_key("rotation_seed") {
            bytes += 3 * d * d * f;
        }
        if self.noise.contains_key("rotation_seed") {
            bytes += 3 * d * d * f;
        }
        if self.kind == "teacher_student" {
            let n = int(&self.params, "n_samples");
            let p = int(&self.params, "input_dim");
            bytes += n.saturating_mul(p + 2) * f;
        }
        bytes
    }

    /// Refuse a file whose [`memory_estimate`](Self::memory_estimate) exceeds `available`
    /// bytes (None: unknown, nothing refused), before anything is allocated.
    pub fn check_memory(&self, available: Option<u64>) -> Result<()> {
        let Some(avail) = available else {
            return Ok(());
        };
        let need = self.memory_estimate();
        if need <= avail as u128 {
            return Ok(());
        }
        let gib = |b: u128| b as f64 / (1u128 << 30) as f64;
        let field = if self.kind == "teacher_student" {
            "params.n_samples"
        } else {
            "dim"
        };
        let value = if field == "dim" {
            self.dim.to_string()
        } else {
            self.params
                .get("n_samples")
                .map(|v| v.to_string())
                .unwrap_or_default()
        };
        Err(Error::invalid(
            field,
            value,
            format!(
                "a size whose landscape fits in the available memory: it needs about {:.1} GiB, {:.1} GiB are available",
                gib(need),
                gib(avail as u128)
            ),
        ))
    }

    /// Build the problem (landscape, noise law, init box), validating every field.
    pub fn build(&self) -> Result<Problem> {
        if self.dim == 0 || self.dim > MAX_DIM {
            return Err(Error::invalid(
                "dim",
                self.dim,
                format!("an integer in [1, {MAX_DIM}]"),
            ));
        }
        self.check_memory(crate::runner::available_memory())?;
        let landscape = build_landscape(&self.kind, self.dim, &self.params)?;
        if landscape.dim() != self.dim {
            return Err(Error::invalid(
                "dim",
                self.dim,
                format!("{} for this kind and params", landscape.dim()),
            ));
        }
        let noise = build_noise(&self.noise, landscape.as_ref())?;
        noise.validate(landscape.as_ref())?;
        let init = match self.init {
            Some(InitSpec { low, high }) => {
                if !(low.is_finite() && high.is_finite() && low <= high) {
                    return Err(Error::invalid(
                        "init.low/init.high",
                        format!("[{low}, {high}]"),
                        "finite numbers with low <= high",
                    ));
                }
                InitBox { low, high }
            }
            None => {
                let (low, high) = landscape.domain();
                InitBox { low, high }
            }
        };
        Ok(Problem {
            landscape,
            noise,
            init,
        })
    }
}

/// Top-level keys of a landscape file.
pub const FILE_KEYS: [&str; 7] = [
    "name",
    "kind",
    "dim",
    "description",
    "params",
    "noise",
    "init",
];

/// Check the top level of a landscape file key by key, so that every error names its field and
/// what it allows (serde's messages name neither clearly).
fn check_top_level(t: &toml::Table) -> Result<()> {
    for key in t.keys() {
        if !FILE_KEYS.contains(&key.as_str()) {
            return Err(Error::invalid(
                key.as_str(),
                "(unknown key)",
                format!("one of: {}", FILE_KEYS.join(", ")),
            ));
        }
    }
    let shown = |v: &toml::Value| one_line(&v.to_string());
    let kinds = || {
        format!(
            "one of: {}",
            KINDS.iter().map(|(k, _)| *k).collect::<Vec<_>>().join(", ")
        )
    };
    match t.get("name") {
        Some(toml::Value::String(_)) => {}
        Some(v) => return Err(Error::invalid("name", shown(v), "a string")),
        None => return Err(Error::invalid("name", "(missing)", "a string (required)")),
    }
    match t.get("kind") {
        Some(toml::Value::String(_)) => {}
        Some(v) => return Err(Error::invalid("kind", shown(v), kinds())),
        None => {
            return Err(Error::invalid(
                "kind",
                "(missing)",
                format!("{} (required)", kinds()),
            ))
        }
    }
    let dims = format!("an integer in [1, {MAX_DIM}]");
    match t.get("dim") {
        Some(toml::Value::Integer(d)) if *d >= 1 && *d as u64 <= MAX_DIM as u64 => {}
        Some(v) => return Err(Error::invalid("dim", shown(v), dims)),
        None => {
            return Err(Error::invalid(
                "dim",
                "(missing)",
                format!("{dims} (required)"),
            ))
        }
    }
    if let Some(v) = t.get("description") {
        if !v.is_str() {
            return Err(Error::invalid("description", shown(v), "a string"));
        }
    }
    if let Some(v) = t.get("params") {
        if !v.is_table() {
            return Err(Error::invalid("params", shown(v), "a table [params]"));
        }
    }
    match t.get("noise") {
        Some(toml::Value::Table(_)) => {}
        Some(v) => {
            return Err(Error::invalid(
                "noise",
                shown(v),
                "a table [noise] with law = ...",
            ))
        }
        None => {
            return Err(Error::invalid(
                "noise",
                "(missing)",
                "a table [noise] with law = gaussian, anisotropic, student_t, multiplicative or finite_sum (required)",
            ))
        }
    }
    match t.get("init") {
        None => {}
        Some(toml::Value::Table(init)) => {
            for key in init.keys() {
                if key != "low" && key != "high" {
                    return Err(Error::invalid(
                        format!("init.{key}"),
                        "(unknown key)",
                        "one of: low, high",
                    ));
                }
            }
            for key in ["low", "high"] {
                match init.get(key) {
                    Some(toml::Value::Float(_) | toml::Value::Integer(_)) => {}
                    Some(v) => {
                        return Err(Error::invalid(format!("init.{key}"), shown(v), "a number"))
                    }
                    None => {
                        return Err(Error::invalid(
                            format!("init.{key}"),
                            "(missing)",
                            "a number (required with [init])",
                        ))
                    }
                }
            }
        }
        Some(v) => {
            return Err(Error::invalid(
                "init",
                shown(v),
                "a table [init] with low, high",
            ))
        }
    }
    Ok(())
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Typed access to a parameter table, remembering which keys were used.
struct Params<'a> {
    table: &'a toml::Table,
    section: &'static str,
    allowed: &'static [&'static str],
}

impl<'a> Params<'a> {
    fn new(
        table: &'a toml::Table,
        section: &'static str,
        allowed: &'static [&'static str],
    ) -> Result<Self> {
        for key in table.keys() {
            if !allowed.contains(&key.as_str()) {
                let list = if allowed.is_empty() {
                    "no keys".to_string()
                } else {
                    allowed.join(", ")
                };
                return Err(Error::invalid(
                    format!("{section}.{key}"),
                    "(unknown key)",
                    format!("one of: {list}"),
                ));
            }
        }
        Ok(Self {
            table,
            section,
            allowed,
        })
    }

    fn field(&self, key: &str) -> String {
        debug_assert!(self.allowed.contains(&key));
        format!("{}.{}", self.section, key)
    }

    fn f64_opt(&self, key: &str) -> Result<Option<f64>> {
        match self.table.get(key) {
            None => Ok(None),
            Some(toml::Value::Float(v)) => Ok(Some(*v)),
            Some(toml::Value::Integer(v)) => Ok(Some(*v as f64)),
            Some(v) => Err(Error::invalid(self.field(key), v, "a number")),
        }
    }

    fn f64_or(&self, key: &str, default: f64) -> Result<f64> {
        Ok(self.f64_opt(key)?.unwrap_or(default))
    }

    fn f64_req(&self, key: &str) -> Result<f64> {
        self.f64_opt(key)?
            .ok_or_else(|| Error::invalid(self.field(key), "(missing)", "a number (required)"))
    }

    fn u64_opt(&self, key: &str) -> Result<Option<u64>> {
        match self.table.get(key) {
            None => Ok(None),
            Some(toml::Value::Integer(v)) if *v >= 0 => Ok(Some(*v as u64)),
            Some(v) => Err(Error::invalid(self.field(key), v, "a non-negative integer")),
        }
    }

    fn usize_req(&self, key: &str, max: usize) -> Result<usize> {
        match self.u64_opt(key)? {
            Some(v) if v >= 1 && v <= max as u64 => Ok(v as usize),
            Some(v) => Err(Error::invalid(
                self.field(key),
                v,
                format!("an integer in [1, {max}]"),
            )),
            None => Err(Error::invalid(
                self.field(key),
                "(missing)",
                format!("an integer in [1, {max}] (required)"),
            )),
        }
    }

    fn vec_opt(&self, key: &str) -> Result<Option<Vec<f64>>> {
        match self.table.get(key) {
            None => Ok(None),
            Some(toml::Value::Array(a)) => a
                .iter()
                .map(|v| match v {
                    toml::Value::Float(f) => Ok(*f),
                    toml::Value::Integer(i) => Ok(*i as f64),
                    other => Err(Error::invalid(
                        self.field(key),
                        other,
                        "an array of numbers",
                    )),
                })
                .collect::<Result<Vec<_>>>()
                .map(Some),
            Some(v) => Err(Error::invalid(self.field(key), v, "an array of numbers")),
        }
    }
}

/// Build a landscape of `kind` in dimension `dim` from its `[params]` table.
pub fn build_landscape(kind: &str, dim: usize, params: &toml::Table) -> Result<Arc<dyn Landscape>> {
    let none: &[&str] = &[];
    Ok(match kind {
        "quadratic" => {
            let p = Params::new(
                params,
                "params",
                &["eigenvalues", "rotation_seed", "radius"],
            )?;
            let eig = p.vec_opt("eigenvalues")?.ok_or_else(|| {
                Error::invalid(
                    "params.eigenvalues",
                    "(missing)",
                    format!("an array of dim = {dim} numbers"),
                )
            })?;
            if eig.len() != dim {
                return Err(Error::invalid(
                    "params.eigenvalues",
                    format!("{} entries", eig.len()),
                    format!("dim = {dim} entries"),
                ));
            }
            let rotation_seed = p.u64_opt("rotation_seed")?;
            if rotation_seed.is_some() && dim > MAX_ROTATED_DIM {
                return Err(Error::invalid(
                    "params.rotation_seed",
                    "(set)",
                    format!("only for dim <= {MAX_ROTATED_DIM} (a rotation stores d² numbers)"),
                ));
            }
            Arc::new(Quadratic::new(
                eig,
                rotation_seed,
                p.f64_or("radius", 10.0)?,
            )?)
        }
        "rastrigin" => {
            let p = Params::new(params, "params", &["amplitude"])?;
            Arc::new(Rastrigin::new(dim, p.f64_or("amplitude", 10.0)?)?)
        }
        "ackley" => {
            Params::new(params, "params", none)?;
            Arc::new(Ackley::new(dim)?)
        }
        "styblinski_tang" => {
            Params::new(params, "params", none)?;
            Arc::new(StyblinskiTang::new(dim)?)
        }
        "levy" => {
            Params::new(params, "params", none)?;
            Arc::new(Levy::new(dim)?)
        }
        "griewank" => {
            Params::new(params, "params", none)?;
            Arc::new(Griewank::new(dim)?)
        }
        "rosenbrock" => {
            Params::new(params, "params", none)?;
            Arc::new(Rosenbrock::new(dim)?)
        }
        "drop_wave" => {
            Params::new(params, "params", none)?;
            if dim != 2 {
                return Err(Error::invalid(
                    "dim",
                    dim,
                    "2 (drop_wave is two-dimensional)",
                ));
            }
            Arc::new(DropWave::new()?)
        }
        "multi_well" => {
            let p = Params::new(params, "params", &["depth", "tilt"])?;
            Arc::new(MultiWell::new(
                dim,
                p.f64_or("depth", 1.0)?,
                p.f64_or("tilt", 0.3)?,
            )?)
        }
        "teacher_student" => {
            let p = Params::new(
                params,
                "params",
                &[
                    "input_dim",
                    "hidden",
                    "n_samples",
                    "label_noise",
                    "data_seed",
                ],
            )?;
            let input = p.usize_req("input_dim", 10_000)?;
            let hidden = p.usize_req("hidden", 10_000)?;
            let n = p.usize_req("n_samples", 10_000_000)?;
            if hidden * (input + 1) != dim {
                return Err(Error::invalid(
                    "dim",
                    dim,
                    format!(
                        "hidden*(input_dim+1) = {} for teacher_student",
                        hidden * (input + 1)
                    ),
                ));
            }
            Arc::new(TeacherStudent::new(
                input,
                hidden,
                n,
                p.f64_or("label_noise", 0.1)?,
                p.u64_opt("data_seed")?.unwrap_or(0),
            )?)
        }
        other => {
            let names: Vec<&str> = KINDS.iter().map(|(k, _)| *k).collect();
            return Err(Error::invalid(
                "kind",
                other,
                format!("one of: {}", names.join(", ")),
            ));
        }
    })
}

/// Build a noise law from its `[noise]` table.
pub fn build_noise(table: &toml::Table, landscape: &dyn Landscape) -> Result<NoiseLaw> {
    let d = landscape.dim();
    let law = match table.get("law") {
        Some(toml::Value::String(s)) => s.as_str(),
        Some(v) => return Err(Error::invalid("noise.law", v, "a string")),
        None => {
            return Err(Error::invalid(
                "noise.law",
                "(missing)",
                "one of: gaussian, anisotropic, student_t, multiplicative, finite_sum",
            ))
        }
    };
    let rest: toml::Table = table
        .iter()
        .filter(|(k, _)| k.as_str() != "law")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let nonneg = |field: &str, v: f64| -> Result<f64> {
        if v.is_finite() && v >= 0.0 {
            Ok(v)
        } else {
            Err(Error::invalid(field, v, "a finite number >= 0"))
        }
    };
    Ok(match law {
        "gaussian" | "anisotropic" => {
            let p = Params::new(
                &rest,
                "noise",
                &["sigma", "variances", "power_law", "rotation_seed"],
            )?;
            let variances = p.vec_opt("variances")?;
            let power = p.f64_opt("power_law")?;
            let rotation_seed = p.u64_opt("rotation_seed")?;
            if variances.is_some() && power.is_some() {
                return Err(Error::invalid(
                    "noise.power_law",
                    "(with variances)",
                    "either variances or power_law, not both",
                ));
            }
            let std_devs = if let Some(v) = variances {
                if v.len() != d {
                    return Err(Error::invalid(
                        "noise.variances",
                        format!("{} entries", v.len()),
                        format!("dim = {d} entries"),
                    ));
                }
                v.iter()
                    .map(|x| nonneg("noise.variances", *x).map(f64::sqrt))
                    .collect::<Result<Vec<_>>>()?
            } else if let Some(alpha) = power {
                if !(alpha.is_finite() && alpha >= 0.0) {
                    return Err(Error::invalid(
                        "noise.power_law",
                        alpha,
                        "a finite exponent >= 0",
                    ));
                }
                let sigma = nonneg("noise.sigma", p.f64_req("sigma")?)?;
                // s_i² ∝ i^{−α}, normalised so that Σ s_i² = d σ² (same C² as isotropic σ).
                let raw: Vec<f64> = (1..=d).map(|i| (i as f64).powf(-alpha)).collect();
                let total: f64 = raw.iter().sum();
                raw.iter()
                    .map(|r| (r / total * d as f64 * sigma * sigma).sqrt())
                    .collect()
            } else if law == "anisotropic" {
                return Err(Error::invalid(
                    "noise.variances",
                    "(missing)",
                    "variances = [..] or power_law = α for law anisotropic",
                ));
            } else {
                if rotation_seed.is_some() {
                    return Err(Error::invalid(
                        "noise.rotation_seed",
                        "(set)",
                        "only with variances or power_law (isotropic noise is rotation invariant)",
                    ));
                }
                return Ok(NoiseLaw::Gaussian {
                    sigma: nonneg("noise.sigma", p.f64_req("sigma")?)?,
                });
            };
            if rotation_seed.is_some() && d > MAX_ROTATED_DIM {
                return Err(Error::invalid(
                    "noise.rotation_seed",
                    "(set)",
                    format!("only for dim <= {MAX_ROTATED_DIM} (a rotation stores d² numbers)"),
                ));
            }
            let rotation = rotation_seed.map(|s| random_orthogonal(d, s));
            NoiseLaw::Anisotropic {
                std_devs,
                rotation,
                rotation_seed,
            }
        }
        "student_t" => {
            let p = Params::new(&rest, "noise", &["sigma", "dof"])?;
            NoiseLaw::StudentT {
                sigma: nonneg("noise.sigma", p.f64_req("sigma")?)?,
                dof: p.f64_req("dof")?,
            }
        }
        "multiplicative" => {
            let p = Params::new(&rest, "noise", &["sigma", "alpha"])?;
            NoiseLaw::Multiplicative {
                sigma: nonneg("noise.sigma", p.f64_req("sigma")?)?,
                alpha: nonneg("noise.alpha", p.f64_req("alpha")?)?,
            }
        }
        "finite_sum" => {
            Params::new(&rest, "noise", &[])?;
            NoiseLaw::FiniteSum
        }
        other => {
            return Err(Error::invalid(
                "noise.law",
                other,
                "one of: gaussian, anisotropic, student_t, multiplicative, finite_sum",
            ))
        }
    })
}
