;;;; worker.lisp -- the skeleton of a long-running SBCL worker.
;;;; Replace the body of DO-ONE-JOB with your work. Run by hand with:
;;;;   sbcl --script worker.lisp
;;;; systemd stops it with SIGTERM, which SBCL turns into a clean exit.

(defparameter *interval*
  (let ((text (sb-ext:posix-getenv "WORKER_INTERVAL")))
    (or (and text (parse-integer text :junk-allowed t)) 60))
  "Seconds between two jobs (environment variable WORKER_INTERVAL).")

(defun log-line (control &rest args)
  "One line on standard output, which systemd sends to the journal."
  (apply #'format t control args)
  (terpri)
  (finish-output))

(defvar *jobs-done* 0 "Jobs finished since the worker started.")

(defun do-one-job ()
  "The work. Signal an error to have it logged; the loop carries on."
  (incf *jobs-done*)
  (log-line "job ~D done" *jobs-done*))

(defun main ()
  (log-line "worker started (SBCL ~A), a job every ~D s"
            (lisp-implementation-version) *interval*)
  (loop
    (handler-case (do-one-job)
      (error (e) (log-line "job failed: ~A" e)))
    (sleep *interval*)))

(main)
