// The authors' sequential SPIDER update (one entry at a time) as a C++ loop over the entries of a
// stream batch. It calls exactly the ATen operations of the Python path in models.py / adf.py, in
// the same order, on tensors of the same shapes and strides, so the results are bit-identical to it
// (tests/papers/spider/test_spider_native.py checks this with torch.equal). Only the Python
// interpreter and autograd dispatch per operation are gone: at batch 1 they dominate the cost.
//
// Any change here must mirror a change of the Python path (Spider.linearise, weight_site_sums,
// ADFModel.update, logz_grads, _site_deltas, _apply, _combine_factors), and vice versa.
#include <torch/extension.h>

#include <cmath>
#include <tuple>
#include <vector>

using at::Tensor;

namespace {

struct Ctx {
  std::vector<int64_t> outs, ins;  // layer (out, in + bias)
  std::vector<double> sq;          // sqrt(in + bias)
  Tensor one;                      // 0-dim 1.0 (Spider._one)
  int64_t skipped = 0;
};

bool ok_range(const Tensor& lo, const Tensor& hi) {  // `lo > 0 and torch.isfinite(hi)`
  return lo.item<double>() > 0 && std::isfinite(hi.item<double>());
}

// ADFModel._site_deltas
std::pair<Tensor, Tensor> site_deltas(Ctx& cx, const Tensor& m, const Tensor& v, const Tensor& dm, const Tensor& dv) {
  Tensor c = at::sub(at::pow(dm, 2), at::mul(dv, 2));
  Tensor den = at::rsub(at::mul(v, c), 1);
  auto mm = at::aminmax(den);
  if (ok_range(std::get<0>(mm), std::get<1>(mm))) {
    Tensor inv = at::reciprocal(den);
    return {at::mul(c, inv), at::mul(at::add(dm, at::mul(m, c)), inv)};
  }
  Tensor ok = at::logical_and(at::logical_and(at::gt(den, 0), at::isfinite(den)), at::isfinite(dm));
  cx.skipped += at::sum(at::logical_not(ok)).item<int64_t>();
  Tensor inv = at::where(ok, at::reciprocal(at::where(ok, den, 1.0)), 0.0);
  return {at::mul(c, inv), at::mul(at::add(dm, at::mul(m, c)), inv)};
}

// ADFModel._apply
std::pair<Tensor, Tensor> apply(Ctx& cx, const Tensor& m, const Tensor& v, const Tensor& dprec, const Tensor& dh) {
  Tensor prec = at::add(at::reciprocal(v), dprec);
  Tensor h = at::add(at::div(m, v), dh);
  auto mm = at::aminmax(prec);
  const Tensor& lo = std::get<0>(mm);
  const Tensor& hi = std::get<1>(mm);
  if (lo.item<double>() > 0 && std::isfinite(at::add(hi, at::sum(h)).item<double>())) {
    return {at::div(h, prec), at::reciprocal(prec)};
  }
  Tensor ok = at::logical_and(at::logical_and(at::gt(prec, 0), at::isfinite(prec)), at::isfinite(h));
  cx.skipped += at::sum(at::logical_not(ok)).item<int64_t>();
  return {at::where(ok, at::div(h, prec), m), at::where(ok, at::reciprocal(prec), v)};
}

std::vector<Tensor> layer_views(const Ctx& cx, const Tensor& flat) {
  std::vector<Tensor> out;
  int64_t off = 0;
  for (size_t l = 0; l < cx.outs.size(); ++l) {
    int64_t n = cx.outs[l] * cx.ins[l];
    out.push_back(flat.narrow(0, off, n).view({cx.outs[l], cx.ins[l]}));
    off += n;
  }
  return out;
}

Tensor no_bias(const Tensor& W) { return W.narrow(1, 0, W.size(1) - 1); }  // W[:, :-1]

}  // namespace

// Entries idx[n], y[n] one after another. mu, vu: the factor tables (updated in place); mw, vw: flat
// weight moments; a, b: Gamma posterior of the noise precision (0-dim). Returns the new (mw, vw, a, b)
// and the number of skipped parameter updates.
std::tuple<Tensor, Tensor, Tensor, Tensor, int64_t> sequential_updates(
    const Tensor& idx, const Tensor& y, std::vector<Tensor> mu, std::vector<Tensor> vu, Tensor mw, Tensor vw,
    Tensor a, Tensor b, std::vector<int64_t> outs, std::vector<int64_t> ins, bool binary, double log2pi) {
  Ctx cx;
  cx.outs = outs;
  cx.ins = ins;
  for (auto i : ins) cx.sq.push_back(std::sqrt(static_cast<double>(i)));
  const int64_t L = static_cast<int64_t>(outs.size());
  const int64_t K = static_cast<int64_t>(mu.size());
  const int64_t R = mu[0].size(1);
  const auto dt = mw.scalar_type();
  {
    c10::InferenceMode guard;
    cx.one = at::ones({}, mw.options());
    auto idx_a = idx.accessor<int64_t, 2>();
    for (int64_t n = 0; n < idx.size(0); ++n) {
      Tensor yn = y.narrow(0, n, 1);
      // gather
      std::vector<Tensor> mrows, vrows;
      for (int64_t k = 0; k < K; ++k) {
        mrows.push_back(mu[k].narrow(0, idx_a[n][k], 1));
        vrows.push_back(vu[k].narrow(0, idx_a[n][k], 1));
      }
      Tensor m_u = at::cat(mrows, 1), v_u = at::cat(vrows, 1);
      Tensor noise_var = at::div(b, a);
      // Spider.forward
      std::vector<Tensor> Ws = layer_views(cx, mw), Vs = layer_views(cx, vw);
      Tensor one11 = at::ones({1, 1}, m_u.options());
      std::vector<Tensor> acts, zs;
      Tensor act = m_u;
      for (int64_t l = 0; l < L; ++l) {
        Tensor at_ = at::div(at::cat({act, one11}, 1), cx.sq[l]);
        acts.push_back(at_);
        Tensor z = at::matmul(at_, Ws[l].t());
        zs.push_back(z);
        act = l < L - 1 ? at::relu(z) : z;
      }
      Tensor f = act.select(1, 0);
      // Spider.linearise
      std::vector<Tensor> masks;
      for (int64_t l = 0; l < L - 1; ++l) masks.push_back(at::gt(zs[l], 0).to(dt));
      std::vector<Tensor> deltas(L), ddots(L), atdots, d2V(L);
      deltas[L - 1] = at::ones({1, 1}, m_u.options());
      for (int64_t l = L - 1; l > 0; --l)
        deltas[l - 1] = at::mul(at::div(at::matmul(deltas[l], no_bias(Ws[l])), cx.sq[l]), masks[l - 1]);
      for (int64_t l = 0; l < L; ++l) d2V[l] = at::matmul(at::mul(deltas[l], deltas[l]), Vs[l]);
      Tensor gu = at::div(at::matmul(deltas[0], no_bias(Ws[0])), cx.sq[0]);
      Tensor vf = at::add(at::sum(at::mul(at::mul(acts[0], acts[0]), d2V[0]), {1}), 0);
      for (int64_t l = 1; l < L; ++l) vf = at::add(vf, at::sum(at::mul(at::mul(acts[l], acts[l]), d2V[l]), {1}));
      vf = at::add(vf, at::sum(at::mul(at::mul(gu, gu), v_u), {1}));
      Tensor adot = at::mul(gu, v_u);
      Tensor zero11 = at::zeros({1, 1}, m_u.options());
      for (int64_t l = 0; l < L; ++l) {
        Tensor atd = at::div(at::cat({adot, zero11}, 1), cx.sq[l]);
        atdots.push_back(atd);
        Tensor zd = at::add(at::mul(deltas[l], at::matmul(at::mul(acts[l], acts[l]), Vs[l].t())),
                            at::matmul(atd, Ws[l].t()));
        adot = l < L - 1 ? at::mul(zd, masks[l]) : zd;
      }
      std::vector<Tensor> back;
      for (int64_t l = 0; l < L; ++l) back.push_back(at::mul(no_bias(acts[l]), no_bias(d2V[l])));
      ddots[L - 1] = at::zeros_like(deltas[L - 1]);
      for (int64_t l = L - 1; l > 0; --l)
        ddots[l - 1] = at::mul(at::div(at::add(back[l], at::matmul(ddots[l], no_bias(Ws[l]))), cx.sq[l]), masks[l - 1]);
      Tensor hu = at::div(at::add(back[0], at::matmul(ddots[0], no_bias(Ws[0]))), cx.sq[0]);
      // ADFModel.logz_grads
      Tensor lf, lv;
      if (binary) {
        Tensor s = at::sub(at::mul(yn, 2), 1);
        Tensor c = at::sqrt(at::add(vf, 1));
        Tensor z = at::div(at::mul(s, f), c);
        Tensor r = at::exp(at::sub(at::sub(at::mul(at::pow(z, 2), -0.5), 0.5 * log2pi), at::special_log_ndtr(z)));
        lf = at::div(at::mul(r, s), c);
        lv = at::div(at::mul(at::neg(r), z), at::mul(at::add(vf, 1), 2));
      } else {
        Tensor var = at::add(vf, noise_var);
        lf = at::div(at::sub(yn, f), var);
        lv = at::add(at::mul(at::reciprocal(var), -0.5),
                     at::div(at::mul(at::pow(at::sub(yn, f), 2), 0.5), at::pow(var, 2)));
      }
      // ADFModel.update: factor-site derivatives
      Tensor lfc = lf.unsqueeze(1), lvc = lv.unsqueeze(1);
      Tensor dmu = at::add(at::mul(lfc, gu), at::mul(at::mul(lvc, 2), hu));
      Tensor dvu = at::mul(lvc, at::pow(gu, 2));
      // Spider.weight_site_sums (one entry is one chunk of any chunk size)
      Tensor sp = at::zeros_like(mw), sh = at::zeros_like(mw);
      std::vector<Tensor> Ps = layer_views(cx, sp), Hs = layer_views(cx, sh);
      Tensor lv2 = at::mul(lvc, 2);
      for (int64_t l = 0; l < L; ++l) {
        const Tensor &av = acts[l], &ad = atdots[l], &d = deltas[l], &dd = ddots[l], &M = Ws[l], &V = Vs[l];
        Tensor P1 = at::add(at::mul(lfc, d), at::mul(lv2, dd));
        Tensor Q1 = at::mul(lv2, d);
        Tensor R1 = at::mul(Q1, d);
        Tensor a2 = at::mul(av, av);
        Tensor dm = at::mul(P1.unsqueeze(2), av.unsqueeze(1));
        dm.addcmul_(Q1.unsqueeze(2), ad.unsqueeze(1));
        Tensor c = at::mul(dm, dm);
        c.addcmul_(R1.unsqueeze(2), a2.unsqueeze(1), -1);
        Tensor den = at::addcmul(cx.one, c, V, -1);
        auto mm = at::aminmax(den);
        Tensor dprec, dh;
        if (ok_range(std::get<0>(mm), std::get<1>(mm))) {
          Tensor inv = den.reciprocal_();
          dprec = c.mul_(inv);
          dh = dm.mul_(inv).addcmul_(M, dprec);
        } else {
          Tensor dv = at::mul(at::mul(R1.unsqueeze(2), 0.5), a2.unsqueeze(1));
          std::tie(dprec, dh) = site_deltas(cx, M.unsqueeze(0), V.unsqueeze(0), dm, dv);
        }
        Ps[l].add_(at::sum(dprec, {0}));
        Hs[l].add_(at::sum(dh, {0}));
      }
      std::tie(mw, vw) = apply(cx, mw, vw, sp, sh);
      // ADFModel._combine_factors, one entry: each mode's row once
      Tensor fprec, fh;
      std::tie(fprec, fh) = site_deltas(cx, m_u, v_u, dmu, dvu);
      Tensor nm, nv;
      std::tie(nm, nv) = apply(cx, m_u.view({K, R}), v_u.view({K, R}), fprec.view({K, R}), fh.view({K, R}));
      for (int64_t k = 0; k < K; ++k) {
        mu[k].select(0, idx_a[n][k]).copy_(nm.select(0, k));
        vu[k].select(0, idx_a[n][k]).copy_(nv.select(0, k));
      }
      // conjugate Gamma update of the noise precision
      if (!binary) {
        Tensor a_new = at::add(a, 0.5);
        Tensor b_new = at::add(b, at::mul(at::sum(at::add(at::pow(at::sub(yn, f), 2), vf)), 0.5));
        double bv = b_new.item<double>();
        if (std::isfinite(bv) && bv > 0) {
          a = a_new;
          b = b_new;
        }
      }
    }
  }
  // results made under InferenceMode are inference tensors: hand back ordinary ones
  return {mw.clone(), vw.clone(), a.clone(), b.clone(), cx.skipped};
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("sequential_updates", &sequential_updates, "SPIDER: the authors' per-entry ADF updates of one stream batch");
}
