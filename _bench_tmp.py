import time, torch, sys
torch.set_num_threads(2)
from minisbert.sbert import SentenceBert
from minisbert.examples import stsb_regression
from minisbert.objectives import RegressionObjective
from sentence_transformers import SentenceTransformer
from sentence_transformers.sentence_transformer.losses import CosineSimilarityLoss
ex=stsb_regression("train","/work/shared/data")
g=torch.Generator().manual_seed(0); order=torch.randperm(len(ex),generator=g).tolist()
ours=RegressionObjective(SentenceBert.from_pretrained("all-MiniLM-L6-v2")); ours.train(); ours.model.bert.use_sdpa=True
st=SentenceTransformer("weights/all-MiniLM-L6-v2",device="cpu"); st.train(); stl=CosineSimilarityLoss(st)
o1=torch.optim.AdamW(ours.parameters(),lr=2e-5,fused=True); o2=torch.optim.AdamW(st.parameters(),lr=2e-5,fused=True)
def step_ours(b):
    loss=ours(b); o1.zero_grad(); loss.backward(); torch.nn.utils.clip_grad_norm_(ours.parameters(),1.0); o1.step()
def step_st(b):
    f=[st.preprocess([e.a for e in b]), st.preprocess([e.b for e in b])]
    loss=stl(f,torch.tensor([e.label for e in b])); o2.zero_grad(); loss.backward(); torch.nn.utils.clip_grad_norm_(st.parameters(),1.0); o2.step()
N=int(sys.argv[1]) if len(sys.argv)>1 else 15
pos=0
for rep in range(3):
    for name,fn in (("ours",step_ours),("st",step_st)):
        t=time.perf_counter()
        for i in range(N):
            b=[ex[j] for j in order[(pos+i)*16:(pos+i+1)*16]]
            fn(b)
        print(rep,name,round((time.perf_counter()-t)/N*1000),"ms/step",flush=True)
    pos+=N
