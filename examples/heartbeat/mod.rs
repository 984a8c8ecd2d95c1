//! What pyzmq's heartbeat examples share (not an example itself): the
//! blocking computation that `heart.py` and `pong.py` run on their main
//! thread while a device thread keeps answering (numpy's `dot(A, A.T)` on a
//! random matrix there, a plain product here), and `random.random()`.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use crate::pyport::{self, Random};

/// Python's `random.random()`: a float in `[0, 1)`.
pub fn random(rng: &mut Random) -> f64 {
    const SCALE: i64 = 1 << 53;
    rng.randrange(0, SCALE) as f64 / SCALE as f64
}

/// A `rows` x `cols` matrix of random floats in `[0, 1)`, row-major
/// (`numpy.random.random((rows, cols))`).
pub fn random_matrix(rng: &mut Random, rows: usize, cols: usize) -> Vec<f64> {
    (0..rows * cols).map(|_| random(rng)).collect()
}

/// `A . A^T` for a `rows` x `cols` row-major matrix: the work that blocks
/// the main thread. Returns the trace, so the work cannot be skipped.
pub fn dot_transpose(a: &[f64], rows: usize, cols: usize) -> f64 {
    let mut trace = 0.0;
    let mut product = vec![0.0; rows * rows];
    for i in 0..rows {
        let row_i = &a[i * cols..(i + 1) * cols];
        for j in 0..rows {
            let row_j = &a[j * cols..(j + 1) * cols];
            product[i * rows + j] = row_i.iter().zip(row_j).map(|(x, y)| x * y).sum();
        }
        trace += product[i * rows + i];
    }
    trace
}

/// The originals' main loop: prints `starting blocking loop`, then
/// `blocked for 0.123 s` after each product; `rounds` of them, or forever.
pub fn blocking_loop(rng: &mut Random, rows: usize, cols: usize, rounds: Option<u64>) {
    let a = random_matrix(rng, rows, cols);
    println!("starting blocking loop");
    let mut done = 0;
    while rounds.is_none_or(|n| done < n) {
        let tic = Instant::now();
        std::hint::black_box(dot_transpose(&a, rows, cols));
        println!("blocked for {:.3} s", tic.elapsed().as_secs_f64());
        done += 1;
    }
}

/// The flags of the blocking work `heartbeat_heart` and `heartbeat_pong`
/// share.
#[derive(clap::Args)]
pub struct Work {
    /// Rows of the random matrix (square for the heart; twice as many columns for pong)
    #[arg(long, value_name = "N", default_value_t = 2048)]
    pub size: usize,
    /// Stop after this many products (default: run until interrupted)
    #[arg(long, value_name = "N")]
    pub rounds: Option<u64>,
    /// Wait before the blocking loop, in milliseconds
    #[arg(long = "settle-ms", value_name = "MS", default_value = "1000", value_parser = pyport::millis)]
    pub settle: Duration,
    /// Seed of the random matrix (default: from the clock)
    #[arg(long)]
    pub seed: Option<u64>,
}

impl Work {
    /// The originals' main thread: waits for the connections, then runs
    /// [`blocking_loop`] on a `size` x `widen * size` matrix.
    pub fn block(&self, widen: usize) {
        std::thread::sleep(self.settle);
        let mut rng = Random::from_seed(self.seed);
        blocking_loop(&mut rng, self.size, widen * self.size, self.rounds);
    }
}
