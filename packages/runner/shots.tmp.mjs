// temporary: screenshots of a report at 1280 and 500 px (not committed)
import { chromium } from 'playwright-core';
import { pathToFileURL } from 'node:url';
const [file, out] = process.argv.slice(2);
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] });
const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
const problems = [];
page.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
await page.goto(pathToFileURL(file).href);
await page.screenshot({ path: `${out}-1280.png`, fullPage: true });
const info = async () => page.evaluate(`({w: document.documentElement.scrollWidth, h: document.documentElement.scrollHeight,
  sections: [...document.querySelectorAll('h2')].map(h => h.textContent),
  charts: [...document.querySelectorAll('section.chart')].map(s => { const svg=[...s.querySelectorAll('svg')].find(g=>g.getBoundingClientRect().width>0); if(!svg) return s.id+': none'; const sc=svg.getBoundingClientRect().width/Number(svg.getAttribute('width')); const sizes=[...svg.querySelectorAll('text')].map(t=>parseFloat(getComputedStyle(t).fontSize)*sc); return s.id+': w'+Math.round(svg.getBoundingClientRect().width)+' text>='+Math.min(...sizes).toFixed(1)}),
  wideTables: [...document.querySelectorAll('table')].filter(t=>t.getBoundingClientRect().right>document.documentElement.clientWidth+1).length})`);
console.log('1280', JSON.stringify(await info()));
await page.setViewportSize({ width: 500, height: 900 });
await page.screenshot({ path: `${out}-500.png`, fullPage: true });
console.log('500', JSON.stringify(await info()));
console.log('problems', problems);
await browser.close();
