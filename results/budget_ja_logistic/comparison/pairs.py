import json, numpy as np
def ep(f, m):
    return next(r for r in json.load(open(f))['results'] if r['method']==m)['episode_accuracy']
def cat(fs, m): return np.array(sum((ep(f,m) for f in fs), []))
B='results/budget_ja_logistic/steps320/ja/seed%d/'
f320={'fomaml':[B%s+'fomaml/results.json' for s in (0,1)], 'multitask':[B%s+'baselines/results.json' for s in (0,1)], 'finetune':[B%s+'baselines/results.json' for s in (0,1)]}
f40=['results/default_job_newton/results.json','results/default_job_newton_seed1/results.json']
o40=['results/one_se/default/seed%d/results.json'%s for s in (0,1)]
o320=['results/one_se/budget320/seed%d/results.json'%s for s in (0,1)]
rng=np.random.default_rng(0)
def boot(a,b):
    d=a-b; n=len(d); idx=rng.integers(0,n,(10000,n)); m=d[idx].mean(1)
    return f"{a.mean():.4f} - {b.mean():.4f} = {d.mean()*100:+.2f} [{np.percentile(m,2.5)*100:+.2f}, {np.percentile(m,97.5)*100:+.2f}]"
import os
print('fomaml 320 vs 40 (best):', boot(cat(f320['fomaml'],'fomaml'), cat(f40,'fomaml')))
print('multitask 320 vs 40 (best):', boot(cat(f320['multitask'],'multitask'), cat(f40,'multitask')))
print('fomaml320 - multitask320 (best):', boot(cat(f320['fomaml'],'fomaml'), cat(f320['multitask'],'multitask')))
print('fomaml320 one_se - fomaml320 best:', boot(cat(o320,'fomaml'), cat(f320['fomaml'],'fomaml')))
print('fomaml320 one_se - multitask320 best:', boot(cat(o320,'fomaml'), cat(f320['multitask'],'multitask')))
if all(os.path.exists(f) for f in o40):
    print('one_se40 fomaml - best40 fomaml:', boot(cat(o40,'fomaml'), cat(f40,'fomaml')))
    print('one_se40 multitask - best40:', boot(cat(o40,'multitask'), cat(f40,'multitask')))
    print('one_se40 finetune - best40:', boot(cat(o40,'finetune'), cat(f40,'finetune')))
    print('one_se40 fomaml - one_se40 multitask:', boot(cat(o40,'fomaml'), cat(o40,'multitask')))
    print('one_se fomaml 320 - one_se fomaml 40:', boot(cat(o320,'fomaml'), cat(o40,'fomaml')))
    print('one_se fomaml 320 - one_se multitask 40:', boot(cat(o320,'fomaml'), cat(o40,'multitask')))
