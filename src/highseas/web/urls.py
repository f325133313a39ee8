from __future__ import annotations

from django.contrib.auth.views import LogoutView
from django.urls import path

from highseas.web.views import (
    audit,
    auth,
    console,
    create,
    customer,
    dashboard,
    exports,
    imports,
    inbox,
    policies,
    sweep,
    workspace,
)

app_name = "web"
urlpatterns = [
    path("", workspace.home, name="home"),
    path("login/", auth.SignInView.as_view(), name="login"),
    path("logout/", LogoutView.as_view(), name="logout"),
    path("pool/", workspace.pool_list, name="pool"),
    path("mine/", workspace.my_customers, name="mine"),
    path("customers/new/", create.new_customer, name="customer_new"),
    path("customers/<int:customer_id>/", customer.customer_page, name="customer"),
    path("customers/<int:customer_id>/claim/", workspace.claim, name="claim"),
    path(
        "claim-requests/<int:request_id>/withdraw/",
        workspace.withdraw_request,
        name="withdraw_request",
    ),
    path("customers/<int:customer_id>/activities/", customer.log_activity, name="log_activity"),
    path("customers/<int:customer_id>/contacts/", customer.add_contact, name="add_contact"),
    path("customers/<int:customer_id>/deals/", customer.open_deal, name="open_deal"),
    path(
        "customers/<int:customer_id>/deals/<int:deal_id>/",
        customer.close_deal,
        name="close_deal",
    ),
    path("customers/<int:customer_id>/release/", customer.release, name="release"),
    path("customers/<int:customer_id>/freeze/", customer.freeze, name="freeze"),
    path("customers/<int:customer_id>/unfreeze/", customer.unfreeze, name="unfreeze"),
    path("customers/<int:customer_id>/give/", customer.give, name="give"),
    path("notifications/", inbox.notifications, name="notifications"),
    path("notifications/<int:notification_id>/read/", inbox.mark_read, name="mark_read"),
    path("notifications/read-all/", inbox.mark_all_read, name="mark_all_read"),
    path("console/", dashboard.dashboard, name="console"),
    path("console/customers/", console.team_customers, name="team_customers"),
    path("console/customers/bulk/", console.bulk_action, name="bulk_action"),
    path("console/approvals/", console.approvals, name="approvals"),
    path("console/approvals/<int:request_id>/<str:decision>/", console.decide, name="decide"),
    path("console/pools/", policies.pools, name="pools"),
    path("console/pools/<int:pool_id>/", policies.pool_policy, name="pool_policy"),
    path("console/sweep/", sweep.sweep_preview, name="sweep_preview"),
    path("mine/export/", exports.export_mine, name="export_mine"),
    path("console/customers/export/", exports.export_team, name="export_team"),
    path("console/imports/", imports.upload, name="imports"),
    path("console/imports/<int:job_id>/", imports.job_page, name="import_job"),
    path("console/imports/<int:job_id>/mapping/", imports.mapping, name="import_mapping"),
    path("console/imports/<int:job_id>/commit/", imports.commit, name="import_commit"),
    path("console/imports/<int:job_id>/progress/", imports.progress, name="import_progress"),
    path("console/audit/", audit.audit_log, name="audit_log"),
]
