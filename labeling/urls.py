from django.urls import path

from labeling.views import agreement, overview, screen, similar, taxonomy

app_name = "labeling"

urlpatterns = [
    path("", overview.label_home, name="home"),
    path("health/", overview.health, name="health"),
    path("similar/", similar.similar, name="similar"),
    path("similar/feedback/", similar.similarity_feedback, name="similarity-feedback"),
    path("incidents/<int:pk>/similar/", similar.incident_similar, name="incident-similar"),
    path("incidents/<int:pk>/labels/", overview.incident_labels, name="incident-labels"),
    path("taxonomies/import/", taxonomy.taxonomy_upload, name="taxonomy-upload"),
    path("taxonomies/<slug:key>/", taxonomy.taxonomy_detail, name="taxonomy"),
    path("taxonomies/<slug:key>/change/", taxonomy.change_option, name="taxonomy-change"),
    path("taxonomies/<slug:key>/export/", taxonomy.taxonomy_export, name="taxonomy-export"),
    path("<slug:key>/", screen.label_screen, name="screen"),
    path("<slug:key>/adjudication/", screen.adjudication_list, name="adjudication"),
    path("<slug:key>/agreement/", agreement.agreement_page, name="agreement"),
    path("<slug:key>/incidents/<int:pk>/adjudicate/", screen.adjudicate, name="adjudicate"),
    path("<slug:key>/incidents/<int:pk>/save/", screen.save_labels, name="save"),
    path("<slug:key>/incidents/<int:pk>/skip/", screen.skip_incident, name="skip"),
    path("<slug:key>/skipped/clear/", screen.unskip_incidents, name="unskip"),
    path("<slug:key>/incidents/<int:pk>/bulk/", screen.bulk_apply, name="bulk-apply"),
]
