import './base.css';
import './sources.css';
import './jobs.css';
import './notebook.css';
