import './base.css';
import './sources.css';
