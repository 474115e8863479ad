export { gcd, lcm } from './math.js';
