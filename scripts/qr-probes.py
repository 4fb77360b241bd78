#!/usr/bin/env python3
"""Photo-like QR probes that the generated categories do not cover, for a side-by-side check with zxing-cpp.

Eight kinds, image i is kind i % 8: glare (a bright specular blob over the code), a photographed screen (a
pixel grid, rotated and downscaled: moire), barrel or pincushion distortion of a close-up, a code turned
35-55 degrees and seen in perspective, ink bleed or thin print (dark modules grown or shrunk by a min/max
filter), a tiny code (1.2-1.8 px modules) zoomed 3-4x as in a screenshot, halftone dots, and depth-of-field
blur growing across the code. Writes the images and truth.json ({"payload", "tags"} per file) to OUT.

Usage:  .bench/venv/bin/python scripts/qr-probes.py OUT SEED COUNT
Needs:  qrcode, pillow, numpy (pip install qrcode pillow numpy; the bench venv has pillow and numpy).
Used for crates/qr/BENCH.md ("Photo-like probes"): seed 41, 80 images.
"""
import qrcode, json, random, sys, os, math
import numpy as np
from PIL import Image, ImageFilter, ImageOps
out=sys.argv[1]; seed=int(sys.argv[2]); N=int(sys.argv[3])
os.makedirs(out,exist_ok=True); os.chdir(out)
random.seed(seed); np.random.seed(seed)
def rtext(n):
    cs='abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_'
    return 'https://p.example/'+''.join(random.choice(cs) for _ in range(n))
def code_img(text, box, ec=qrcode.constants.ERROR_CORRECT_M, border=4):
    q=qrcode.QRCode(error_correction=ec, box_size=box, border=border); q.add_data(text); q.make(fit=True)
    return q.make_image(fill_color='black', back_color='white').convert('L'), q.version
truth={}; k=0
def save(img, text, tags, q=None):
    global k
    name=f"{k:04d}.{'jpg' if q else 'png'}"; k+=1
    if q: img.convert('RGB').save(name, quality=q)
    else: img.save(name)
    truth[name]={'payload':text,'tags':tags}
def place(code, W, H, bg, angle):
    c=code.rotate(angle, expand=True, fillcolor=255, resample=Image.BICUBIC)
    canvas=Image.new('L',(max(W,c.width),max(H,c.height)),bg)
    x=random.randint(0, canvas.width-c.width); y=random.randint(0,canvas.height-c.height)
    canvas.paste(c,(x,y)); return canvas, (x,y,c.width,c.height)
def noise(a,s): return a+np.random.normal(0,s,a.shape)
def fin(a): return Image.fromarray(np.clip(a,0,255).astype(np.uint8))
for i in range(N):
    kind=i%8
    text=rtext(random.randint(10,80))
    if kind==0:  # glare
        code,v=code_img(text, random.choice([4,5,6]))
        img,(x,y,w,h)=place(code, 900, 700, 120, random.uniform(-20,20))
        a=np.asarray(img).astype(np.float32)*random.uniform(0.6,0.85)
        H,W=a.shape; yy,xx=np.mgrid[0:H,0:W]
        cx=x+random.uniform(0.2,0.8)*w; cy=y+random.uniform(0.2,0.8)*h
        r=random.uniform(0.08,0.2)*w
        g=np.exp(-(((xx-cx)/r)**2+((yy-cy)/(r*random.uniform(0.5,1.5)))**2))
        a=a+g*random.uniform(150,260)
        save(fin(noise(a,2.5)),text,['glare',f'v{v}'],q=88)
    elif kind==1:  # moire: photographed screen
        code,v=code_img(text, random.choice([5,6,7]))
        img,_=place(code, 800, 800, 230, 0)
        a=np.asarray(img).astype(np.float32)
        H,W=a.shape; yy,xx=np.mgrid[0:H,0:W]
        p=random.uniform(2.5,3.5)
        grid=(0.7+0.3*np.sin(2*math.pi*xx/p))*(0.8+0.2*np.sin(2*math.pi*yy/p))
        a=a*grid+10
        im=fin(a).rotate(random.uniform(-8,8),resample=Image.BILINEAR,fillcolor=40)
        f=random.uniform(0.45,0.7)
        im=im.resize((int(W*f),int(H*f)),Image.BILINEAR)
        save(fin(noise(np.asarray(im).astype(np.float32),2)),text,['moire',f'p{p:.1f}',f'f{f:.2f}',f'v{v}'],q=85)
    elif kind==2:  # barrel distortion, close-up
        code,v=code_img(text, random.choice([8,10,12]))
        img,_=place(code, code.width+60, code.height+60, 200, random.uniform(-10,10))
        a=np.asarray(img).astype(np.float32)
        H,W=a.shape; yy,xx=np.mgrid[0:H,0:W].astype(np.float32)
        nx=(xx-W/2)/(W/2); ny=(yy-H/2)/(H/2); r2=nx*nx+ny*ny
        k1=random.uniform(0.12,0.3)*random.choice([1,-1])
        sx=(nx*(1+k1*r2))*(W/2)+W/2; sy=(ny*(1+k1*r2))*(H/2)+H/2
        sx=np.clip(sx,0,W-1).astype(int); sy=np.clip(sy,0,H-1).astype(int)
        b=a[sy,sx]
        save(fin(noise(b,2)).filter(ImageFilter.GaussianBlur(0.8)),text,['barrel',f'k{k1:.2f}',f'v{v}'],q=88)
    elif kind==3:  # 45 deg + perspective
        code,v=code_img(text, random.choice([4,5,6]))
        img,_=place(code, 1000, 1000, 170, random.uniform(35,55))
        W,H=img.size
        d=random.uniform(0.1,0.25)*W
        coeffs=[(0,0),(W,0),(W,H),(0,H)]
        dst=[(d,random.uniform(0,d)),(W-d,0),(W,H),(0,H-random.uniform(0,d))]
        # compute perspective coeffs mapping dst->src
        A=[];B=[]
        for (X,Y),(x,y) in zip(dst,coeffs):
            A.append([X,Y,1,0,0,0,-x*X,-x*Y]); B.append(x)
            A.append([0,0,0,X,Y,1,-y*X,-y*Y]); B.append(y)
        c=np.linalg.solve(np.array(A),np.array(B))
        im=img.transform((W,H),Image.PERSPECTIVE,tuple(c),Image.BICUBIC,fillcolor=170)
        save(fin(noise(np.asarray(im).astype(np.float32),3)),text,['rot45persp',f'v{v}'],q=85)
    elif kind==4:  # ink bleed / thin print
        box=random.choice([5,6,8])
        code,v=code_img(text, box)
        s=random.choice([3,5]) if box>=6 else 3
        if random.random()<0.5: code=code.filter(ImageFilter.MinFilter(s)); t='bleed'
        else: code=code.filter(ImageFilter.MaxFilter(s)); t='thin'
        img,_=place(code, 800, 700, 210, random.uniform(-15,15))
        save(fin(noise(np.asarray(img.filter(ImageFilter.GaussianBlur(0.7))).astype(np.float32),3)),text,[t,f's{s}',f'v{v}'],q=88)
    elif kind==5:  # tiny code upscaled (screenshot zoom)
        code,v=code_img(text, 1, border=2)
        f=random.uniform(1.2,1.8)
        c=code.resize((int(code.width*f),int(code.height*f)),Image.BILINEAR)
        up=random.choice([3,4])
        c=c.resize((c.width*up,c.height*up),random.choice([Image.BICUBIC,Image.BILINEAR]))
        img,_=place(c, c.width+100, c.height+100, 255, 0)
        save(img,text,['tinyzoom',f'f{f:.2f}',f'up{up}',f'v{v}'])
    elif kind==6:  # halftone dots
        box=random.choice([9,12])
        code,v=code_img(text, box)
        a=np.asarray(code).astype(np.float32)
        H,W=a.shape; yy,xx=np.mgrid[0:H,0:W]
        p=random.choice([3,4])
        dots=(((xx%p)-p/2+0.5)**2+((yy%p)-p/2+0.5)**2)<=(p*0.42)**2
        a=np.where((a<128)&dots,20.0,235.0)
        img=fin(a).rotate(random.uniform(-10,10),expand=True,fillcolor=235,resample=Image.BICUBIC)
        f=random.uniform(0.5,0.9)
        img=img.resize((int(img.width*f),int(img.height*f)),Image.BILINEAR)
        save(fin(noise(np.asarray(img).astype(np.float32),3)),text,['halftone',f'p{p}',f'f{f:.2f}',f'v{v}'],q=88)
    else:  # shallow depth of field: blur gradient across code
        code,v=code_img(text, random.choice([4,5,6]))
        img,_=place(code, 900, 700, 180, random.uniform(-20,20))
        sharp=np.asarray(img).astype(np.float32)
        bl=np.asarray(img.filter(ImageFilter.GaussianBlur(random.uniform(3,5)))).astype(np.float32)
        W=sharp.shape[1]; t=np.clip((np.arange(W)-W*0.3)/(W*0.5),0,1)[None,:]
        a=sharp*(1-t)+bl*t
        save(fin(noise(a,3)),text,['dof',f'v{v}'],q=85)
json.dump(truth,open('truth.json','w'))
print(len(truth))
