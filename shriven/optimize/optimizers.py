"""Portfolio optimisers: minimum variance, mean-variance, maximum Sharpe, ERC and HRP.

The constrained problems are solved with SciPy's SLSQP and analytic gradients. The non-smooth
constraints become linear ones over auxiliary variables, so SLSQP only ever sees smooth
functions: leverage ``sum |w| <= L`` is ``w = r - s, r, s >= 0, sum (r + s) <= L`` and turnover
``sum |w - w_prev| <= T`` is ``w - w_prev = p - q, p, q >= 0, sum (p + q) <= T``. The start
point is equal weights when they are feasible, else a feasible vertex from ``linprog`` (HiGHS),
which also proves the constraints feasible before any solve.

Closed forms are used where they are exact: without bounds, leverage or turnover limits, and
also whenever the unconstrained optimum happens to satisfy the constraints (the problems are
convex, or quasi-concave for the Sharpe ratio, so it is then the constrained optimum too).
``solver="slsqp"`` forces the numerical path (tests compare the two).

Infeasible constraints raise ``ValueError`` before solving; a solve that fails or ends outside
the constraints (beyond ``FEASIBILITY_TOLERANCE``) is returned with ``converged=False`` and the
reason in ``message``, never as if it had worked.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import polars as pl
from scipy.cluster.hierarchy import leaves_list, linkage
from scipy.optimize import Bounds, linprog, minimize
from scipy.spatial.distance import squareform

from shriven.optimize.covariance import sample_covariance

__all__ = [
    "FEASIBILITY_TOLERANCE",
    "Constraints",
    "OptimisationResult",
    "Solver",
    "equal_risk_contribution",
    "hierarchical_risk_parity",
    "max_sharpe",
    "mean_variance",
    "min_variance",
    "risk_contributions",
]

Solver = Literal["auto", "closed_form", "slsqp"]

#: How far a returned weight vector may break a constraint before the result is not converged.
FEASIBILITY_TOLERANCE = 1e-7
#: SLSQP's stopping tolerance on the (scaled) objective, and its iteration cap.
_FTOL = 1e-15
_MAX_ITER = 1000
#: Fresh SLSQP starts after a stalled line search (see ``_solve``).
_RESTARTS = 2


# ------------------------------------------------------------------------------------ constraints
@dataclass(frozen=True)
class Constraints:
    """Limits every optimiser respects: bounds, budget, gross leverage and turnover.

    ``lower``/``upper`` are one bound for all assets or one per asset (``-inf``/``inf`` for
    none); ``budget`` is ``sum w`` (1 fully invested, 0 market-neutral); ``leverage`` caps
    ``sum |w|``; ``max_turnover`` caps ``sum |w - previous_weights|`` and needs
    ``previous_weights``. The default is long-only and fully invested.
    """

    lower: float | tuple[float, ...] = 0.0
    upper: float | tuple[float, ...] = 1.0
    leverage: float | None = None
    budget: float = 1.0
    max_turnover: float | None = None
    previous_weights: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        for name in ("lower", "upper", "previous_weights"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, int | float):
                object.__setattr__(self, name, tuple(float(v) for v in value))
        for name in ("lower", "upper"):
            values = np.atleast_1d(np.asarray(getattr(self, name), dtype=np.float64))
            if np.isnan(values).any():
                raise ValueError(f"{name} bounds must not be NaN")
        if not math.isfinite(self.budget):
            raise ValueError(f"budget must be finite, got {self.budget!r}")
        if self.leverage is not None and not (math.isfinite(self.leverage) and self.leverage > 0):
            raise ValueError(f"leverage must be a positive number, got {self.leverage!r}")
        if self.max_turnover is not None:
            if not (math.isfinite(self.max_turnover) and self.max_turnover >= 0):
                raise ValueError(f"max_turnover must be >= 0, got {self.max_turnover!r}")
            if self.previous_weights is None:
                raise ValueError("max_turnover needs previous_weights (the current portfolio)")
        if self.previous_weights is not None and not all(
            math.isfinite(v) for v in self.previous_weights
        ):
            raise ValueError("previous_weights must be finite")

    @classmethod
    def unconstrained(cls, budget: float = 1.0) -> Constraints:
        """Only the budget: no bounds (shorting allowed), no leverage or turnover limit."""
        return cls(lower=-math.inf, upper=math.inf, budget=budget)

    def bounds(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Per-asset lower and upper bounds for ``n`` assets."""
        out = []
        for name in ("lower", "upper"):
            values = np.asarray(getattr(self, name), dtype=np.float64)
            if values.ndim == 0:
                values = np.full(n, float(values))
            elif values.shape != (n,):
                raise ValueError(f"{name} has {values.size} bounds for {n} assets")
            out.append(values)
        return out[0], out[1]

    def previous(self, n: int) -> np.ndarray | None:
        """The previous weights as an array (checked against ``n``), if any."""
        if self.previous_weights is None:
            return None
        if len(self.previous_weights) != n:
            raise ValueError(
                f"previous_weights has {len(self.previous_weights)} entries for {n} assets"
            )
        return np.asarray(self.previous_weights, dtype=np.float64)

    def is_budget_only(self, n: int) -> bool:
        """Whether only the budget binds (no bounds, leverage or turnover): closed forms apply."""
        lo, hi = self.bounds(n)
        return (
            bool(np.all(np.isneginf(lo)) and np.all(np.isposinf(hi)))
            and self.leverage is None
            and self.max_turnover is None
        )

    def check_feasible(self, n: int) -> None:
        """Raise ``ValueError`` saying which constraint cannot hold, before any solve."""
        lo, hi = self.bounds(n)
        previous = self.previous(n)
        bad = np.nonzero(lo > hi)[0]
        if bad.size:
            i = int(bad[0])
            raise ValueError(f"lower bound {lo[i]} exceeds upper bound {hi[i]} for asset {i}")
        tol = FEASIBILITY_TOLERANCE
        if lo.sum() > self.budget + tol or hi.sum() < self.budget - tol:
            raise ValueError(
                f"the bounds cannot sum to the budget {self.budget}: weights can only sum to "
                f"[{lo.sum()}, {hi.sum()}]"
            )
        if self.leverage is not None:
            need = _least_distance(np.zeros(n), lo, hi, self.budget)
            if need > self.leverage + tol:
                raise ValueError(
                    f"leverage {self.leverage} is below the least gross exposure {need:.6g} the "
                    f"bounds and budget force"
                )
        if self.max_turnover is not None:
            assert previous is not None
            need = _least_distance(previous, lo, hi, self.budget)
            if need > self.max_turnover + tol:
                raise ValueError(
                    f"max_turnover {self.max_turnover} is below the least turnover {need:.6g} "
                    f"that moving to the bounds and budget needs"
                )

    def violations(self, weights: np.ndarray, tol: float = FEASIBILITY_TOLERANCE) -> list[str]:
        """Which constraints ``weights`` break by more than ``tol`` (empty: all hold)."""
        n = weights.size
        lo, hi = self.bounds(n)
        out = []
        if abs(float(weights.sum()) - self.budget) > tol:
            out.append(f"sum of weights {weights.sum():.10g} != budget {self.budget}")
        if np.any(weights < lo - tol):
            out.append(f"lower bound broken by {float(np.max(lo - weights)):.3g}")
        if np.any(weights > hi + tol):
            out.append(f"upper bound broken by {float(np.max(weights - hi)):.3g}")
        if self.leverage is not None and np.abs(weights).sum() > self.leverage + tol:
            out.append(f"gross leverage {np.abs(weights).sum():.10g} > {self.leverage}")
        previous = self.previous(n)
        if self.max_turnover is not None and previous is not None:
            turnover = float(np.abs(weights - previous).sum())
            if turnover > self.max_turnover + tol:
                out.append(f"turnover {turnover:.10g} > {self.max_turnover}")
        return out


def _least_distance(origin: np.ndarray, lo: np.ndarray, hi: np.ndarray, budget: float) -> float:
    """Least ``sum |w - origin|`` over the box with ``sum w = budget`` (the box already can).

    Clip ``origin`` into the box, then move the remaining budget gap: every unit moved costs
    exactly one, since a coordinate can only move away from its origin once clipped.
    """
    z = np.clip(origin, lo, hi)
    return float(np.abs(z - origin).sum() + abs(budget - z.sum()))


# ------------------------------------------------------------------------------------- results
@dataclass(frozen=True, eq=False)
class OptimisationResult:
    """Target weights and how they were found; ``converged=False`` means do not trade them.

    ``risk_contributions`` are ``w_i (C w)_i / sigma`` (they sum to ``volatility``);
    ``expected_return`` is ``mu' w`` (NaN when the method takes no expected returns). Arrays are
    read-only; results compare by identity (``==`` on arrays has no single truth value).
    """

    weights: np.ndarray
    method: str
    converged: bool
    message: str
    risk_contributions: np.ndarray = field(repr=False)
    expected_return: float
    volatility: float

    def __post_init__(self) -> None:
        for name in ("weights", "risk_contributions"):
            array = np.array(getattr(self, name), dtype=np.float64)
            array.setflags(write=False)
            object.__setattr__(self, name, array)


def risk_contributions(weights: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """Each asset's share of portfolio volatility, ``w_i (C w)_i / sqrt(w' C w)`` (zeros at zero risk)."""
    w = np.asarray(weights, dtype=np.float64)
    marginal = np.asarray(cov, dtype=np.float64) @ w
    variance = float(w @ marginal)
    if variance <= 0.0:
        return np.zeros_like(w)
    return w * marginal / math.sqrt(variance)


def _result(
    weights: np.ndarray,
    cov: np.ndarray,
    method: str,
    converged: bool,
    message: str,
    mu: np.ndarray | None = None,
) -> OptimisationResult:
    variance = float(weights @ cov @ weights)
    return OptimisationResult(
        weights=weights,
        method=method,
        converged=converged,
        message=message,
        risk_contributions=risk_contributions(weights, cov),
        expected_return=float(mu @ weights) if mu is not None else math.nan,
        volatility=math.sqrt(max(variance, 0.0)),
    )


# ------------------------------------------------------------------------------ problem set-up
def _check_cov(cov: np.ndarray) -> np.ndarray:
    """A finite, square, symmetric covariance (symmetrised) with non-negative variances."""
    c = np.asarray(cov, dtype=np.float64)
    if c.ndim != 2 or c.shape[0] != c.shape[1] or c.shape[0] == 0:
        raise ValueError(f"covariance must be a non-empty square matrix, got shape {c.shape}")
    if not np.isfinite(c).all():
        raise ValueError("covariance holds NaN or inf")
    scale = max(float(np.max(np.abs(c))), 1e-300)
    if float(np.max(np.abs(c - c.T))) > 1e-8 * scale:
        raise ValueError("covariance is not symmetric")
    if np.any(np.diag(c) < 0):
        raise ValueError("covariance has a negative variance")
    return (c + c.T) / 2.0


def _check_mu(mu: Sequence[float] | np.ndarray, n: int) -> np.ndarray:
    m = np.asarray(mu, dtype=np.float64)
    if m.shape != (n,):
        raise ValueError(f"expected returns have shape {m.shape}, the covariance has {n} assets")
    if not np.isfinite(m).all():
        raise ValueError("expected returns hold NaN or inf")
    return m


@dataclass(frozen=True)
class _Problem:
    """The linear constraints over ``x = [w, (r, s), (p, q)]`` (auxiliaries only when needed)."""

    n: int
    bounds: Bounds
    a_eq: np.ndarray
    b_eq: np.ndarray
    a_ub: np.ndarray
    b_ub: np.ndarray
    has_leverage: bool
    previous: np.ndarray | None

    @property
    def size(self) -> int:
        return self.bounds.lb.size

    def lift(self, w: np.ndarray) -> np.ndarray:
        """The point of ``x`` whose weights are ``w`` with the tightest auxiliaries."""
        parts = [w]
        if self.has_leverage:
            parts += [np.maximum(w, 0.0), np.maximum(-w, 0.0)]
        if self.previous is not None:
            d = w - self.previous
            parts += [np.maximum(d, 0.0), np.maximum(-d, 0.0)]
        return np.concatenate(parts)


def _problem(constraints: Constraints, n: int) -> _Problem:
    lo, hi = constraints.bounds(n)
    previous = constraints.previous(n) if constraints.max_turnover is not None else None
    blocks = 1 + (2 if constraints.leverage is not None else 0) + (2 if previous is not None else 0)
    size = blocks * n
    lb = np.concatenate([lo, np.zeros(size - n)])
    ub = np.concatenate([hi, np.full(size - n, np.inf)])
    eq_rows: list[np.ndarray] = []
    eq_rhs: list[float] = []
    ub_rows: list[np.ndarray] = []
    ub_rhs: list[float] = []
    row = np.zeros(size)
    row[:n] = 1.0
    eq_rows.append(row)
    eq_rhs.append(constraints.budget)
    eye = np.eye(n)
    at = n
    if constraints.leverage is not None:
        block = np.zeros((n, size))
        block[:, :n] = eye
        block[:, at : at + n] = -eye
        block[:, at + n : at + 2 * n] = eye
        eq_rows.extend(block)
        eq_rhs.extend([0.0] * n)
        row = np.zeros(size)
        row[at : at + 2 * n] = 1.0
        ub_rows.append(row)
        ub_rhs.append(constraints.leverage)
        at += 2 * n
    if previous is not None:
        assert constraints.max_turnover is not None
        block = np.zeros((n, size))
        block[:, :n] = eye
        block[:, at : at + n] = -eye
        block[:, at + n : at + 2 * n] = eye
        eq_rows.extend(block)
        eq_rhs.extend(previous.tolist())
        row = np.zeros(size)
        row[at : at + 2 * n] = 1.0
        ub_rows.append(row)
        ub_rhs.append(constraints.max_turnover)
    return _Problem(
        n=n,
        bounds=Bounds(lb, ub),
        a_eq=np.array(eq_rows),
        b_eq=np.array(eq_rhs),
        a_ub=np.array(ub_rows).reshape(len(ub_rows), size),
        b_ub=np.array(ub_rhs),
        has_leverage=constraints.leverage is not None,
        previous=previous,
    )


def _start(problem: _Problem, constraints: Constraints) -> np.ndarray:
    """A feasible start: equal weights if they are, else a vertex from ``linprog`` (or ValueError)."""
    n = problem.n
    equal = np.full(n, constraints.budget / n)
    if not constraints.violations(equal, tol=0.0):
        return problem.lift(equal)
    lp = linprog(
        np.zeros(problem.size),
        A_ub=problem.a_ub if problem.a_ub.size else None,
        b_ub=problem.b_ub if problem.b_ub.size else None,
        A_eq=problem.a_eq,
        b_eq=problem.b_eq,
        bounds=list(zip(problem.bounds.lb, problem.bounds.ub, strict=True)),
        method="highs",
    )
    if lp.status == 2:
        raise ValueError(
            "the constraints are jointly infeasible (bounds, budget, leverage and turnover "
            "cannot all hold at once)"
        )
    if not lp.success:
        raise ValueError(f"could not find a feasible start: {lp.message}")
    return problem.lift(np.asarray(lp.x[:n]))


def _solve(
    objective: Callable[[np.ndarray], float],
    gradient: Callable[[np.ndarray], np.ndarray],
    constraints: Constraints,
    n: int,
) -> tuple[np.ndarray, bool, str]:
    """SLSQP over the lifted problem; the weights, whether they can be trusted, and why."""
    problem = _problem(constraints, n)
    x0 = _start(problem, constraints)
    # SLSQP's line search and tolerances assume an O(1) objective: scale by the start's gradient
    factor = 1.0 / max(float(np.max(np.abs(gradient(x0[:n])))), 1e-12)

    def fun(x: np.ndarray) -> float:
        return factor * objective(x[:n])

    def jac(x: np.ndarray) -> np.ndarray:
        g = np.zeros_like(x)
        g[:n] = factor * gradient(x[:n])
        return g

    linear = [
        {
            "type": "eq",
            "fun": lambda x: problem.a_eq @ x - problem.b_eq,
            "jac": lambda x: problem.a_eq,
        }
    ]
    if problem.a_ub.size:
        linear.append(
            {
                "type": "ineq",
                "fun": lambda x: problem.b_ub - problem.a_ub @ x,
                "jac": lambda x: -problem.a_ub,
            }
        )
    iterations = 0
    for _attempt in range(1 + _RESTARTS):
        solved = minimize(
            fun,
            x0,
            jac=jac,
            method="SLSQP",
            bounds=problem.bounds,
            constraints=linear,
            options={"ftol": _FTOL, "maxiter": _MAX_ITER},
        )
        iterations += int(solved.nit)
        # a stalled line search (mode 8) is often at the optimum already: a fresh start from
        # there, with a new quasi-Newton Hessian, either confirms it or moves on
        if solved.success or solved.status != 8 or not np.isfinite(solved.x).all():
            break
        x0 = np.clip(solved.x, problem.bounds.lb, problem.bounds.ub)
    w = np.asarray(solved.x[:n], dtype=np.float64)
    message = f"SLSQP: {solved.message} ({iterations} iterations)"
    broken = constraints.violations(w)
    if broken:
        message += "; the result breaks the constraints: " + "; ".join(broken)
    if not np.isfinite(w).all():
        return np.full(n, math.nan), False, message + "; non-finite weights"
    return w, bool(solved.success) and not broken, message


def _solve_unconstrained(cov: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """``C^-1 rhs``; a singular covariance is a clear error, not garbage weights."""
    try:
        out = np.linalg.solve(cov, rhs)
    except np.linalg.LinAlgError:
        raise ValueError(
            "the covariance is singular: use Ledoit-Wolf shrinkage or a bounded solve"
        ) from None
    if np.linalg.cond(cov) > 1e12:
        raise ValueError("the covariance is nearly singular (condition number > 1e12)")
    return out


def _closed_form_or_solve(
    method: str,
    closed_form: Callable[[], np.ndarray],
    objective: Callable[[np.ndarray], float],
    gradient: Callable[[np.ndarray], np.ndarray],
    cov: np.ndarray,
    constraints: Constraints,
    solver: Solver,
    mu: np.ndarray | None = None,
) -> OptimisationResult:
    n = cov.shape[0]
    constraints.check_feasible(n)
    if solver not in ("auto", "closed_form", "slsqp"):
        raise ValueError(f"unknown solver {solver!r}; known: auto, closed_form, slsqp")
    budget_only = constraints.is_budget_only(n)
    if solver == "closed_form" and not budget_only:
        raise ValueError(f"{method} has a closed form only without bounds, leverage or turnover")
    if solver != "slsqp":
        try:
            w = closed_form()
        except ValueError:
            if budget_only:
                raise
        else:
            if budget_only:
                return _result(w, cov, method, True, "closed form", mu)
            if not constraints.violations(w):
                return _result(w, cov, method, True, "closed form (no constraint binds)", mu)
    w, converged, message = _solve(objective, gradient, constraints, n)
    return _result(w, cov, method, converged, message, mu)


# ---------------------------------------------------------------------------------- optimisers
def min_variance(
    cov: np.ndarray, constraints: Constraints | None = None, *, solver: Solver = "auto"
) -> OptimisationResult:
    """The least-variance portfolio ``min w' C w``: no return forecast, so nothing to over-fit.

    Budget only: ``w = b C^-1 1 / (1' C^-1 1)``.
    """
    c = _check_cov(cov)
    constraints = constraints or Constraints()
    n = c.shape[0]
    scale = _scale(c)
    ones = np.ones(n)

    def closed_form() -> np.ndarray:
        y = _solve_unconstrained(c, ones)
        return constraints.budget * y / float(ones @ y)

    return _closed_form_or_solve(
        "min_variance",
        closed_form,
        lambda w: float(w @ c @ w) / scale,
        lambda w: 2.0 * (c @ w) / scale,
        c,
        constraints,
        solver,
    )


def mean_variance(
    mu: Sequence[float] | np.ndarray,
    cov: np.ndarray,
    risk_aversion: float = 1.0,
    constraints: Constraints | None = None,
    *,
    solver: Solver = "auto",
) -> OptimisationResult:
    """Markowitz: ``max mu' w - (risk_aversion / 2) w' C w``, the return/risk trade-off made explicit.

    Budget only: ``w = C^-1 (mu - eta 1) / lambda`` with ``eta`` setting ``sum w = b``.
    """
    c = _check_cov(cov)
    n = c.shape[0]
    m = _check_mu(mu, n)
    if not (math.isfinite(risk_aversion) and risk_aversion > 0):
        raise ValueError(f"risk_aversion must be positive, got {risk_aversion!r}")
    constraints = constraints or Constraints()
    scale = _scale(c)
    lam = float(risk_aversion)
    ones = np.ones(n)

    def closed_form() -> np.ndarray:
        c_inv_one = _solve_unconstrained(c, ones)
        c_inv_mu = _solve_unconstrained(c, m)
        eta = (float(ones @ c_inv_mu) - lam * constraints.budget) / float(ones @ c_inv_one)
        return (c_inv_mu - eta * c_inv_one) / lam

    return _closed_form_or_solve(
        "mean_variance",
        closed_form,
        lambda w: (0.5 * lam * float(w @ c @ w) - float(m @ w)) / scale,
        lambda w: (lam * (c @ w) - m) / scale,
        c,
        constraints,
        solver,
        m,
    )


def max_sharpe(
    mu: Sequence[float] | np.ndarray,
    cov: np.ndarray,
    rf: float = 0.0,
    constraints: Constraints | None = None,
    *,
    solver: Solver = "auto",
) -> OptimisationResult:
    """The tangency portfolio, ``max (mu - rf)' w / sqrt(w' C w)``: the best return per unit of risk.

    ``rf`` is per period, in the units of ``mu``. Budget only: ``w = b C^-1 (mu - rf) / 1' C^-1
    (mu - rf)``, which exists only when that denominator is positive (else ValueError). The
    budget must be positive (the ratio is scale-free).
    """
    c = _check_cov(cov)
    n = c.shape[0]
    m = _check_mu(mu, n)
    if not math.isfinite(rf):
        raise ValueError(f"rf must be finite, got {rf!r}")
    constraints = constraints or Constraints()
    if constraints.budget <= 0:
        raise ValueError(f"max_sharpe needs a positive budget, got {constraints.budget}")
    excess = m - rf
    ones = np.ones(n)

    def closed_form() -> np.ndarray:
        y = _solve_unconstrained(c, excess)
        total = float(ones @ y)
        if total <= 1e-12 * float(np.abs(y).sum()):
            raise ValueError(
                "no maximum-Sharpe portfolio with a positive budget exists without bounds: "
                "1' C^-1 (mu - rf) <= 0 (every asset's excess return is too low)"
            )
        return constraints.budget * y / total

    def objective(w: np.ndarray) -> float:
        sigma = math.sqrt(max(float(w @ c @ w), 1e-300))
        return -float(excess @ w) / sigma

    def gradient(w: np.ndarray) -> np.ndarray:
        cw = c @ w
        sigma = math.sqrt(max(float(w @ cw), 1e-300))
        return -(excess / sigma - float(excess @ w) * cw / sigma**3)

    return _closed_form_or_solve(
        "max_sharpe", closed_form, objective, gradient, c, constraints, solver, m
    )


def equal_risk_contribution(
    cov: np.ndarray,
    constraints: Constraints | None = None,
    *,
    risk_budget: Sequence[float] | np.ndarray | None = None,
    tol: float = 1e-12,
    max_iter: int = 100,
) -> OptimisationResult:
    """Risk parity: each asset contributes its share ``b_i`` of the risk (equal by default).

    Solved by Newton's method on Spinu's (2013) strictly convex problem ``min 1/2 y' C y -
    sum b_i log y_i``, whose unique minimiser, rescaled to the budget, is the long-only
    risk-budgeting portfolio. ERC has no room for bounds, leverage or turnover: they are checked
    afterwards and a result that breaks them is returned with ``converged=False``.
    """
    c = _check_cov(cov)
    n = c.shape[0]
    constraints = constraints or Constraints()
    if constraints.budget <= 0:
        raise ValueError(
            f"equal_risk_contribution needs a positive budget, got {constraints.budget}"
        )
    constraints.check_feasible(n)
    if np.any(np.diag(c) <= 0):
        raise ValueError("equal_risk_contribution needs every variance > 0")
    b = np.full(n, 1.0 / n) if risk_budget is None else np.asarray(risk_budget, dtype=np.float64)
    if b.shape != (n,) or not np.isfinite(b).all() or np.any(b <= 0):
        raise ValueError("risk_budget must be n positive numbers")
    b = b / b.sum()
    cs = c / _scale(c)
    y = b / np.sqrt(np.diag(cs))
    y /= math.sqrt(float(y @ cs @ y))

    def f(v: np.ndarray) -> float:
        return 0.5 * float(v @ cs @ v) - float(b @ np.log(v))

    converged, iterations, residual = False, 0, math.inf
    for iterations in range(0, max_iter + 1):  # noqa: B007  (reported below)
        # optimality is y_i (C y)_i = b_i: the risk-budget condition itself
        residual = float(np.max(np.abs(y * (cs @ y) - b)) / np.max(b))
        if residual <= tol:
            converged = True
            break
        if iterations == max_iter:
            break
        g = cs @ y - b / y
        hessian = cs + np.diag(b / y**2)
        step = np.linalg.solve(hessian, g)
        decrement = float(g @ step)
        t = 1.0
        while np.any(y - t * step <= 0) or f(y - t * step) > f(y) - 0.25 * t * decrement:
            t /= 2.0
            if t < 1e-12:
                break
        y = y - t * step
    w = constraints.budget * y / y.sum()
    rc = risk_contributions(w, c)
    spread = float(np.max(np.abs(rc / rc.sum() - b)) / np.max(b))
    message = f"Newton (Spinu): {iterations} iterations, residual {residual:.2e}"
    if not converged:
        message += "; did not reach the tolerance"
    broken = constraints.violations(w)
    if broken:
        message += "; the ERC portfolio breaks the constraints: " + "; ".join(broken)
    if spread > 1e-9:
        message += f"; risk contributions off their budgets by {spread:.2e} (relative)"
    ok = converged and not broken and spread <= 1e-9
    return _result(w, c, "equal_risk_contribution", ok, message)


def hierarchical_risk_parity(
    cov: np.ndarray | None = None,
    *,
    returns: np.ndarray | pl.DataFrame | None = None,
    constraints: Constraints | None = None,
) -> OptimisationResult:
    """López de Prado's HRP (2016): risk parity along a correlation tree, with no matrix inversion.

    Give ``cov`` or ``returns`` (then the sample covariance is used). Steps: correlation
    distance ``d_ij = sqrt((1 - rho_ij) / 2)``; single linkage on ``d`` (``scipy`` on the
    condensed distances); quasi-diagonal order = the dendrogram's leaves; recursive bisection
    of that order into halves, each half's weight split by ``alpha = 1 - V_left / (V_left +
    V_right)`` with ``V`` the half's variance under inverse-variance weights. Weights are
    positive and sum to 1. HRP has no room for constraints: given ``constraints`` are checked
    afterwards, and weights that break them are returned with ``converged=False``.
    """
    if (cov is None) == (returns is None):
        raise ValueError("give exactly one of cov or returns")
    c = _check_cov(sample_covariance(returns) if returns is not None else cov)  # type: ignore[arg-type]
    n = c.shape[0]
    variances = np.diag(c)
    if np.any(variances <= 0):
        raise ValueError("hierarchical_risk_parity needs every variance > 0")
    if n == 1:
        return _result(np.ones(1), c, "hierarchical_risk_parity", True, "one asset")
    std = np.sqrt(variances)
    corr = np.clip(c / np.outer(std, std), -1.0, 1.0)
    distance = np.sqrt(np.clip((1.0 - corr) / 2.0, 0.0, None))
    np.fill_diagonal(distance, 0.0)
    tree = linkage(squareform(distance, checks=False), method="single")
    order = [int(i) for i in leaves_list(tree)]
    weights = np.ones(n)
    clusters = [order]
    while clusters:
        clusters = [
            part
            for cluster in clusters
            if len(cluster) > 1
            for part in (cluster[: len(cluster) // 2], cluster[len(cluster) // 2 :])
        ]
        for i in range(0, len(clusters), 2):
            left, right = clusters[i], clusters[i + 1]
            v_left, v_right = _cluster_variance(c, left), _cluster_variance(c, right)
            alpha = 1.0 - v_left / (v_left + v_right)
            weights[left] *= alpha
            weights[right] *= 1.0 - alpha
    message = f"single linkage, leaf order {order}"
    broken = constraints.violations(weights) if constraints is not None else []
    if broken:
        message += "; the HRP portfolio breaks the constraints: " + "; ".join(broken)
    return _result(weights, c, "hierarchical_risk_parity", not broken, message)


def _cluster_variance(cov: np.ndarray, members: list[int]) -> float:
    """Variance of a cluster held in inverse-variance weights (HRP's bisection uses it)."""
    sub = cov[np.ix_(members, members)]
    ivp = 1.0 / np.diag(sub)
    ivp /= ivp.sum()
    return float(ivp @ sub @ ivp)


def _scale(cov: np.ndarray) -> float:
    """Average variance: objectives are divided by it so SLSQP's tolerances mean the same at any scale."""
    scale = float(np.mean(np.diag(cov)))
    return scale if scale > 0 else 1.0
